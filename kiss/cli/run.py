"""``kiss run``: the whole hub on this machine, no Docker; ``kiss demo``: the demo's bots and load.

With no Twitch credentials configured, ``kiss run`` also starts the simulator, a few
example bots and a low-rate load, so that events visibly reach the bots within a minute.
Ctrl-C (or SIGTERM) stops every process, last started first.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import click
import redis

from kiss import localrun
from kiss.cli.status import settings_or_exit
from kiss.keys import Keys
from kiss.logs import redact
from kiss.settings import Settings
from kiss.simulator.testing import SimulatorControl
from kiss.status.heartbeat import is_alive, worker_heartbeat_name
from kiss.supervisor import demo, plan
from kiss.supervisor.runner import StartupAborted, Supervisor
from kiss.supervisor.spec import ReadyCheck, tcp_listening

FLOWER_USER = "kiss"
GIVEN = "as given"


def _require_redis(settings: Settings) -> None:
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        raise click.ClickException(
            f"Redis at {redact(settings.redis_url)} does not answer ({error}).\n"
            "Start it (`redis-server`, or `docker run -p 6379:6379 redis`), or point "
            "redis_url / KISSBOT_REDIS_URL at yours."
        ) from error
    finally:
        client.close()


def _flower_auth(state_dir: Path, given: str | None) -> tuple[str, str]:
    """(user:password, where it is told): given, or generated once into a 0600 file."""
    if given:
        if ":" not in given:
            raise click.BadParameter("expected user:password", param_hint="--flower-auth")
        return given, GIVEN
    path = state_dir / "flower-auth"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(f"{FLOWER_USER}:{secrets.token_urlsafe(12)}\n")
    return path.read_text().strip(), f"user:password in {path}"


def _prepare_state_dir(state_dir: Path) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    # prometheus_client's multiprocess files describe dead processes after a restart.
    shutil.rmtree(state_dir / "prometheus", ignore_errors=True)
    (state_dir / "prometheus").mkdir()


def _write_run_file(
    local: plan.LocalRun, settings: Settings, sim_port: int | None, auth_hint: str
) -> Path:
    """What this run chose, for the commands of a second terminal (kiss/localrun.py).

    No secret but those generated here for local use: the simulator's demo client and a
    generated Flower password (never one given with --flower-auth).
    """
    flower: dict[str, str] = {"url": f"http://127.0.0.1:{local.flower_port}/"}
    if auth_hint != GIVEN:
        flower["basic_auth"] = local.flower_auth
    run_info: dict[str, object] = {
        "flower": flower,
        "metrics_ports": {
            "listener": settings.metrics_port,
            "worker": settings.metrics_port + plan.WORKER_METRICS_OFFSET,
        },
        "listener_id": local.listener_id,
    }
    if sim_port is not None:
        run_info["simulator_url"] = f"http://127.0.0.1:{sim_port}"
    path = localrun.write(local.state_dir, localrun.nested(local.env), run_info)
    return path


async def _supervise(body: Callable[[Supervisor], Awaitable[None]]) -> int:
    """Run ``body`` under a supervisor until Ctrl-C/SIGTERM; stop everything; exit code."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    supervisor = Supervisor(out=sys.stdout, stop_requested=stop, colour=sys.stdout.isatty())
    code = 0
    try:
        await body(supervisor)
        await supervisor.wait()
        supervisor.say("stop requested")
    except StartupAborted:
        supervisor.say("stop requested during startup")
    except Exception as error:  # any startup error: say it, then stop what did start
        supervisor.say(f"startup failed: {type(error).__name__}: {error}")
        code = 1
    finally:
        await supervisor.stop()
    return code


def _demo_channels(settings: Settings, base_url: str, count: int) -> list[demo.DemoChannel]:
    """Broadcasters on the simulator, their tokens in the hub's store (after the migration)."""
    from kiss.store.crypto import TokenCipher
    from kiss.store.db import make_engine, session_factory

    control = SimulatorControl(base_url)
    channels = demo.create_channels(control, count)
    engine = make_engine(settings.database_url)
    try:
        cipher = TokenCipher.from_file(settings.secret_key_file)
        demo.store_tokens(control, channels, session_factory(engine), cipher)
    finally:
        engine.dispose()
    return channels


async def _start_demo(
    supervisor: Supervisor,
    run: plan.LocalRun,
    channels: list[demo.DemoChannel],
    base_url: str,
    rate: float,
) -> None:
    for spec in plan.bots(run, channels):
        await supervisor.start(spec)
    await asyncio.to_thread(demo.start_load, SimulatorControl(base_url), channels, rate)
    names = ", ".join(f"{c.login} ({c.channel_id})" for c in channels)
    supervisor.say(f"demo channels: {names}; {rate:g} {demo.DEMO_EVENT_TYPE} events/s")


@click.command("run")
@click.option("--flower-port", type=click.IntRange(1, 65535), default=5555, show_default=True)
@click.option(
    "--flower-auth",
    envvar="KISSBOT_FLOWER_BASIC_AUTH",
    help="user:password for Flower (default: generated into STATE_DIR/flower-auth).",
)
@click.option(
    "--demo/--no-demo",
    "demo_mode",
    default=None,
    help="Run the simulator and example bots (default: when no Twitch credentials are set).",
)
@click.option("--bots", "bot_count", type=click.IntRange(1, 50), default=3, show_default=True)
@click.option("--rate", type=click.FloatRange(0, min_open=True), default=2.0, show_default=True)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".kiss-run"),
    show_default=True,
    help="Beat schedule, Flower credentials, metrics files.",
)
def run(
    flower_port: int,
    flower_auth: str | None,
    demo_mode: bool | None,
    bot_count: int,
    rate: float,
    state_dir: Path,
) -> None:
    """Start the whole hub here: listener, worker, beat, Flower (and the demo); Ctrl-C stops."""
    settings = settings_or_exit()
    _require_redis(settings)
    if tcp_listening("127.0.0.1", flower_port)():
        raise click.BadParameter(
            f"port {flower_port} is in use (another `kiss run`?); pick another",
            param_hint="--flower-port",
        )
    _prepare_state_dir(state_dir)
    auth, auth_hint = _flower_auth(state_dir, flower_auth)
    demo_mode = (not settings.twitch.configured) if demo_mode is None else demo_mode
    sim_port = demo.free_port()
    base_url = f"http://127.0.0.1:{sim_port}"
    local = plan.LocalRun(
        python=sys.executable,
        state_dir=state_dir.resolve(),
        celery_queue=settings.celery_queue,
        flower_port=flower_port,
        flower_auth=auth,
        env=demo.simulator_env(base_url) if demo_mode else {},
        listener_id=f"{socket.gethostname()}-run",
        worker_heartbeat=worker_heartbeat_name(),
    )
    heartbeats = redis.Redis.from_url(settings.redis_url, socket_timeout=2)
    keys = Keys(settings.key_prefix)
    run_file = _write_run_file(local, settings, sim_port if demo_mode else None, auth_hint)

    def alive(name: str) -> ReadyCheck:
        return lambda: is_alive(heartbeats, keys, name)

    async def body(supervisor: Supervisor) -> None:
        if demo_mode:
            supervisor.say(f"demo mode (no Twitch credentials): simulator at {base_url}")
            await supervisor.start(plan.simulator(local, sim_port))
        await supervisor.start(plan.migrate(local))
        channels: list[demo.DemoChannel] = []
        if demo_mode:
            channels = await asyncio.to_thread(_demo_channels, settings, base_url, bot_count)
        for spec in plan.hub(local, alive):
            await supervisor.start(spec)
        if demo_mode:
            await _start_demo(supervisor, local, channels, base_url, rate)
        supervisor.say(f"Flower: http://127.0.0.1:{flower_port}/ ({auth_hint})")
        supervisor.say(
            f"metrics: http://127.0.0.1:{settings.metrics_port}/metrics (listener), "
            f"port {settings.metrics_port + plan.WORKER_METRICS_OFFSET} (worker)"
        )
        supervisor.say(
            "hub is up: `kiss status` in another terminal (its settings: "
            f"{run_file}); Ctrl-C stops everything"
        )

    try:
        code = asyncio.run(_supervise(body))
    finally:
        heartbeats.close()
        localrun.remove(run_file)
    sys.exit(code)


@click.command("demo")
@click.option("--simulator-url", required=True, help="Base URL of a running `kiss simulator`.")
@click.option("--channels", "count", type=click.IntRange(1, 50), default=3, show_default=True)
@click.option("--rate", type=click.FloatRange(0, min_open=True), default=2.0, show_default=True)
def demo_command(simulator_url: str, count: int, rate: float) -> None:
    """The demo's example bots and event load against a simulator (compose's demo profile)."""
    settings = settings_or_exit()
    local = plan.LocalRun(
        python=sys.executable,
        state_dir=Path("."),
        celery_queue=settings.celery_queue,
        flower_port=0,
        flower_auth="",
    )

    base_url = simulator_url.rstrip("/")

    async def body(supervisor: Supervisor) -> None:
        channels = await asyncio.to_thread(_demo_channels, settings, base_url, count)
        await _start_demo(supervisor, local, channels, base_url, rate)

    sys.exit(asyncio.run(_supervise(body)))
