"""Moving from v5, end to end, as an operator follows docs/migrating-from-v5.md.

A directory holds what a v5.0 deployment leaves: its ``kissbot.db`` (the seed's tables with a
channel, its token encrypted with ``.kissbot.key``, and subscriptions, ``channel.follow`` v1
among them) and the seed's ``config/config.yaml``. In it the operator runs ``kiss db
upgrade``, ``kiss db import-seed kissbot.db``, ``kiss auth list``, then the local run
against Twitch (here the simulator), and a bot written as the README shows (a ``bot=`` name
and a typed handler) receives an event. The v5 file is byte for byte what it was.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import redis
from cryptography.fernet import Fernet

from kiss.keys import Keys
from kiss.simulator.testing import SimulatorControl, SimulatorHandle
from kiss.supervisor.demo import simulator_env
from tests.e2e.test_local_run import ROOT, Output, eventually
from tests.ports import free_ports
from tests.v5seed import V5_CONFIG, V5Channel, make_v5_db, sha256

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CHANNEL = V5Channel(
    "44456636",
    "el_serda",
    topics=(("stream.online", "1"), ("stream.offline", "1"), ("channel.follow", "1")),
    scopes=("moderator:read:followers", "channel:bot"),
    expires_at="2030-01-01T00:00:00+00:00",
)

BOT = """\
import asyncio
import os

from kiss.client import HubEventSubClient, Notification, run
from kiss.keys import Keys

client = HubEventSubClient(
    "44456636",
    "el_serda",
    redis_url=os.environ["KISSBOT_REDIS_URL"],
    bot="migrated",
    keys=Keys(os.environ["KISSBOT_KEY_PREFIX"]),  # the test's own keys in the shared Redis
)


@client.on("stream.online")
async def online(event: Notification) -> None:
    print("live!", event.type, event.channel_id, event.event["broadcaster_user_id"], flush=True)


async def main() -> None:
    try:
        await client.start()
        pending = await client.subscribe("stream.online")  # already desired: answers at once
        outcome = await pending.outcome()
        print("subscription", outcome.status, outcome.reason, flush=True)
        await asyncio.Event().wait()
    finally:
        await client.stop()


run(main())
"""


DOC = ROOT / "docs" / "migrating-from-v5.md"


def test_the_doc_gives_the_commands_this_test_runs() -> None:
    steps = re.findall(r"```bash\n(.*?)```", DOC.read_text(), re.S)[0]
    commands = [line.split("#")[0].strip() for line in steps.splitlines()]
    for command in ("kiss db upgrade", "kiss db import-seed kissbot.db", "kiss auth list"):
        assert command in commands, steps
    assert any(command.startswith("scripts/run") for command in commands), steps


def kiss(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "kiss", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Traceback" not in output, output
    return output


def start(cwd: Path, env: dict[str, str], *argv: str) -> tuple[subprocess.Popen[str], Output]:
    process = subprocess.Popen(
        [sys.executable, *argv],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return process, Output(process)


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        children = psutil.Process(process.pid).children(recursive=True)
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            for child in children:
                child.kill()
            process.kill()
            process.wait()
        psutil.wait_procs(children, timeout=10)


@pytest.fixture
def v5_directory(tmp_path: Path, simulator: SimulatorHandle) -> Path:
    """What a v5.0 deployment leaves, its token one the (simulated) Twitch knows."""
    control = SimulatorControl(simulator.base_url)
    control.user(CHANNEL.login, CHANNEL.user_id)
    control.authorize(CHANNEL.user_id, CHANNEL.scopes)
    token = control.token(user_id=CHANNEL.user_id, scopes=CHANNEL.scopes)
    control.http.close()
    key = Fernet.generate_key()
    (tmp_path / ".kissbot.key").write_bytes(key + b"\n")
    channel = V5Channel(
        CHANNEL.user_id,
        CHANNEL.login,
        topics=CHANNEL.topics,
        access_token=token["access_token"],
        refresh_token=token.get("refresh_token") or "v5-refresh",
        scopes=CHANNEL.scopes,
        expires_at=CHANNEL.expires_at,
    )
    make_v5_db(tmp_path / "kissbot.db", key, (channel,))
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(V5_CONFIG)
    return tmp_path


@pytest.fixture
def operator_env(
    simulator: SimulatorHandle, redis_url: str, keys: Keys, redis_client: redis.Redis
) -> Iterator[dict[str, str]]:
    """The operator's shell: Twitch is the simulator; Redis keys and queue are the test's."""
    queue_name = f"q-{keys.prefix}"
    (metrics_port, _worker_port) = free_ports(2)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KISSBOT_", "FLOWER_"))}
    yield {
        **env,
        **simulator_env(simulator.base_url),
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "KISSBOT_REDIS_URL": redis_url,
        "KISSBOT_KEY_PREFIX": keys.prefix,
        "KISSBOT_CELERY_QUEUE": queue_name,
        "KISSBOT_METRICS_PORT": str(metrics_port),
        "KISSBOT_EVENTSUB__RECONCILE_INTERVAL": "3",
    }
    redis_client.delete(f"_kombu.binding.{queue_name}")


def test_a_v5_deployment_moves_over_and_its_file_is_untouched(
    v5_directory: Path, operator_env: dict[str, str], simulator: SimulatorHandle
) -> None:
    began = time.monotonic()
    here, env = v5_directory, operator_env
    v5_file = here / "kissbot.db"
    before = sha256(v5_file)

    # 1. The schema: a database of the hub's own next to the v5 file; the v5 keys warn.
    upgraded = kiss(here, env, "db", "upgrade")
    assert "kiss-hub.db" in upgraded
    assert "eventsub.hub.socket_path: not used" in upgraded
    assert (here / "kiss-hub.db").is_file()

    # 2. The import, twice: the second adds nothing and says so.
    imported = kiss(here, env, "db", "import-seed", "kissbot.db")
    assert "3 desired subscriptions, 1 channels, 1 tokens" in imported, imported
    assert "channel.follow v1: Twitch removed that version; imported as v2" in imported
    again = kiss(here, env, "db", "import-seed", "kissbot.db")
    assert "nothing new" in again, again
    listed = kiss(here, env, "auth", "list")
    assert "el_serda (44456636)" in listed and "valid" in listed, listed
    assert "moderator:read:followers" in listed

    # 3. The local run (scripts/run is `kiss run`), against Twitch: here the simulator.
    (flower_port,) = free_ports(1)
    run, run_log = start(
        here,
        env,
        "-m",
        "kiss",
        "run",
        "--no-demo",
        "--flower-port",
        str(flower_port),
        "--flower-auth",
        f"kiss:{uuid.uuid4().hex[:8]}",
        "--state-dir",
        str(here / ".kiss-run"),
    )
    bot: subprocess.Popen[str] | None = None
    try:
        eventually(lambda: run_log.find(lambda line: "hub is up" in line), "the hub up", 45)
        (here / "my_bot.py").write_text(BOT)
        bot, bot_log = start(here, env, "my_bot.py")
        answer = eventually(
            lambda: bot_log.find(lambda line: line.startswith("subscription ")),
            "the bot's subscription outcome",
            30,
        )
        assert answer.split()[1] == "active", bot_log.tail() + run_log.tail()
        control = SimulatorControl(simulator.base_url)
        try:
            # Twitch drops what reaches a conduit whose shard is not bound yet: wait for it.
            eventually(
                lambda: any(
                    shard["status"] == "enabled"
                    for conduit in control.conduits()
                    for shard in conduit["shards"]
                ),
                "the listener's shard bound",
                30,
            )
            control.trigger("stream.online", CHANNEL.user_id)
        finally:
            control.http.close()
        got = eventually(
            lambda: bot_log.find(lambda line: line.startswith("live!")), "the event at the bot", 20
        )
        assert got.split()[1:4] == ["stream.online", "44456636", "44456636"]
        status = kiss(here, env, "subscriptions", "--channel", CHANNEL.user_id)
        assert "channel.follow" in status, status
    except AssertionError:
        print(run_log.tail(120))
        raise
    finally:
        if bot is not None:
            stop(bot)
        stop(run)
    assert "Traceback" not in run_log.tail(100_000)

    # 4. The v5 file is byte for byte what it was, and nothing was put beside it.
    assert sha256(v5_file) == before
    assert not list(here.glob("kissbot.db-*"))
    took = time.monotonic() - began
    assert took <= 60, f"{took:.0f}s"
    print(f"v5 migration end to end: {took:.1f}s")
