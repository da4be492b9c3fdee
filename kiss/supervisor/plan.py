"""Which processes the local run starts, in which order: pure, from a few facts.

Children run as ``python -m kiss ...`` and ``python -m celery ...`` with this interpreter, so
the local run works from a fresh checkout as well as from an installed package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kiss.status.exporter import WORKER_METRICS_OFFSET
from kiss.supervisor.demo import DemoChannel
from kiss.supervisor.spec import ProcessSpec, http_answers, tcp_listening

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


def kiss_argv(run: LocalRun, *args: str) -> tuple[str, ...]:
    return (run.python, "-m", "kiss", *args)


def celery_argv(run: LocalRun, *args: str) -> tuple[str, ...]:
    return (run.python, "-m", "celery", "-A", CELERY_APP, *args)


def migrate(run: LocalRun) -> ProcessSpec:
    return ProcessSpec("migrate", kiss_argv(run, "db", "upgrade"), env=run.env, oneshot=True)


def simulator(run: LocalRun, port: int) -> ProcessSpec:
    argv = kiss_argv(run, "simulator", "--host", "127.0.0.1", "--port", str(port))
    return ProcessSpec("simulator", argv, env=run.env, ready=tcp_listening("127.0.0.1", port))


def hub(run: LocalRun) -> list[ProcessSpec]:
    """Worker first (it answers the listener's welcome), then control, listener, beat, Flower."""
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
    return [
        ProcessSpec("worker", worker, env=worker_env),
        ProcessSpec("control", kiss_argv(run, "control"), env=run.env),
        ProcessSpec("listener", kiss_argv(run, "listener"), env=run.env),
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
