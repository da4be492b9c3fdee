from __future__ import annotations

from pathlib import Path

from kiss.supervisor.demo import DemoChannel
from kiss.supervisor.plan import LocalRun, bots, hub, migrate, simulator
from kiss.supervisor.spec import ReadyCheck

RUN = LocalRun(
    python="/venv/bin/python",
    state_dir=Path("/tmp/state"),
    celery_queue="q-1",
    flower_port=5599,
    flower_auth="kiss:s3cret-pass",
    env={"KISSBOT_TWITCH__HELIX_URL": "http://127.0.0.1:1/helix"},
    listener_id="host-run",
    worker_heartbeat="worker:host",
)


def test_hub_starts_the_worker_first_and_flower_last() -> None:
    assert [spec.name for spec in hub(RUN)] == ["worker", "control", "listener", "beat", "flower"]


def test_every_child_runs_with_this_interpreter_and_the_shared_env() -> None:
    for spec in [migrate(RUN), simulator(RUN, 8081), *hub(RUN)]:
        assert spec.argv[0] == "/venv/bin/python"
        assert spec.env["KISSBOT_TWITCH__HELIX_URL"] == "http://127.0.0.1:1/helix"


def test_migration_is_a_oneshot_step() -> None:
    spec = migrate(RUN)
    assert spec.oneshot
    assert spec.argv[1:] == ("-m", "kiss", "db", "upgrade")


def test_worker_sends_task_events_for_flower_and_consumes_the_configured_queue() -> None:
    worker = hub(RUN)[0]
    assert "--task-events" in worker.argv
    assert worker.argv[worker.argv.index("--queues") + 1] == "q-1"
    assert worker.env["PROMETHEUS_MULTIPROC_DIR"] == "/tmp/state/prometheus"


def test_beat_keeps_its_schedule_in_the_state_dir() -> None:
    beat = hub(RUN)[3]
    assert beat.argv[beat.argv.index("--schedule") + 1] == "/tmp/state/celerybeat-schedule"


def test_flower_binds_locally_and_gets_its_password_only_through_the_environment() -> None:
    flower = hub(RUN)[-1]
    assert "--address=127.0.0.1" in flower.argv
    assert "--port=5599" in flower.argv
    assert flower.env["FLOWER_BASIC_AUTH"] == "kiss:s3cret-pass"
    assert not any("s3cret" in word for word in flower.argv)
    assert flower.ready is not None


def test_simulator_is_local_and_waited_for() -> None:
    spec = simulator(RUN, 8081)
    assert spec.argv[-4:] == ("--host", "127.0.0.1", "--port", "8081")
    assert spec.ready is not None and not spec.ready()  # nothing listens on 8081 here


def test_one_bot_per_demo_channel() -> None:
    specs = bots(
        RUN, [DemoChannel("101", "demo_streamer_1"), DemoChannel("102", "demo_streamer_2")]
    )
    assert [spec.name for spec in specs] == ["bot-streamer_1", "bot-streamer_2"]
    assert "101" in specs[0].argv


def test_with_heartbeats_a_hung_worker_or_listener_gets_restarted() -> None:
    asked: list[str] = []

    def alive(name: str) -> ReadyCheck:
        asked.append(name)
        return lambda: True

    specs = {spec.name: spec for spec in hub(RUN, alive)}
    assert asked == ["worker:host", "listener:host-run"]
    assert specs["worker"].healthy is not None and specs["listener"].healthy is not None
    assert specs["beat"].healthy is None
    listener = specs["listener"].argv
    assert listener[listener.index("--listener-id") + 1] == "host-run"
    assert all(spec.healthy is None for spec in hub(RUN))
