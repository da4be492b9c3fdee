"""Which processes the local run starts, in which order: pure, from a few facts.

Children run as ``python -m kiss ...`` and ``python -m celery ...`` with this interpreter, so
the local run works from a fresh checkout as well as from an installed package.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kiss.status.exporter import WORKER_METRICS_OFFSET
from kiss.supervisor.demo import DemoChannel
from kiss.supervisor.spec import ProcessSpec, ReadyCheck, http_answers, tcp_listening

__all__ = ["WORKER_METRICS_OFFSET", "LocalRun", "bots", "hub", "migrate", "simulator"]

CELERY_APP = "workers.celery_app"


@dataclass(frozen=True)
class LocalRun:
    python: str
    state_dir: Path
    celery_queue: str
    flower_port: int
    flower_auth: str = field(repr=False)
    env: Mapping[str, str] = field(default_factory=dict)  # for every child
    # Heartbeat names (kiss/keys.py) of the listener and the worker this run starts.
    listener_id: str = "local"
    worker_heartbeat: str = "worker:local"


# A heartbeat name -> a liveness check of it (in Redis, in the local run).
Alive = Callable[[str], ReadyCheck]


def kiss_argv(run: LocalRun, *args: str) -> tuple[str, ...]:
    return (run.python, "-m", "kiss", *args)


def celery_argv(run: LocalRun, *args: str) -> tuple[str, ...]:
    return (run.python, "-m", "celery", "-A", CELERY_APP, *args)


def migrate(run: LocalRun) -> ProcessSpec:
    return ProcessSpec("migrate", kiss_argv(run, "db", "upgrade"), env=run.env, oneshot=True)


def simulator(run: LocalRun, port: int) -> ProcessSpec:
    argv = kiss_argv(run, "simulator", "--host", "127.0.0.1", "--port", str(port))
    return ProcessSpec("simulator", argv, env=run.env, ready=tcp_listening("127.0.0.1", port))


def hub(run: LocalRun, alive: Alive | None = None) -> list[ProcessSpec]:
    """Worker first (it answers the listener's welcome), then control, listener, beat, Flower.

    With ``alive``, a worker or listener whose heartbeat stops is restarted.
    """
    worker_env = {
        **run.env,
        # prometheus_client's multiprocess mode: the prefork children share one /metrics.
        "PROMETHEUS_MULTIPROC_DIR": str(run.state_dir / "prometheus"),
    }
    worker = celery_argv(
        run,
        "worker",
        "--loglevel",
        "INFO",
        "--task-events",
        "--queues",
        run.celery_queue,
        "--hostname",
        f"kiss-{run.celery_queue}@%h",
        "--concurrency",
        "2",
    )
    beat = celery_argv(
        run, "beat", "--loglevel", "INFO", "--schedule", str(run.state_dir / "celerybeat-schedule")
    )
    flower = celery_argv(run, "flower", "--address=127.0.0.1", f"--port={run.flower_port}")
    flower_url = f"http://127.0.0.1:{run.flower_port}/"
    listener = kiss_argv(run, "listener", "--listener-id", run.listener_id)
    return [
        ProcessSpec(
            "worker",
            worker,
            env=worker_env,
            healthy=alive(run.worker_heartbeat) if alive else None,
        ),
        ProcessSpec("control", kiss_argv(run, "control"), env=run.env),
        ProcessSpec(
            "listener",
            listener,
            env=run.env,
            healthy=alive(f"listener:{run.listener_id}") if alive else None,
        ),
        ProcessSpec("beat", beat, env=run.env),
        ProcessSpec(
            "flower",
            flower,
            # Through the environment, so the password never shows in a command line.
            env={**run.env, "FLOWER_BASIC_AUTH": run.flower_auth},
            ready=http_answers(flower_url),
        ),
    ]


def bots(run: LocalRun, channels: Sequence[DemoChannel]) -> list[ProcessSpec]:
    return [
        ProcessSpec(
            f"bot-{channel.login.removeprefix('demo_')}",
            kiss_argv(
                run, "bot", "--channel-id", channel.channel_id, "--channel-name", channel.login
            ),
            env=run.env,
        )
        for channel in channels
    ]
