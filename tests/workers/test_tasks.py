"""End to end: real `celery worker` and `celery beat` processes, the simulator, Redis, a DB."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from kiss.auth.provider import Principal
from kiss.errors import HelixError
from kiss.keys import Keys
from kiss.reconcile.services import Services
from kiss.settings import Settings
from kiss.simulator.testing import SimulatorControl, SimulatorHandle
from kiss.store import hub_state
from kiss.store import subscriptions as store
from tests.reconcile.conftest import hub_settings, make_conduit
from tests.waiting import wait_for
from workers.celery_app import create_app

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


@pytest.fixture
def settings(
    simulator: SimulatorHandle,
    control: SimulatorControl,
    database_url: str,
    keys: Keys,
    tmp_path: Path,
) -> Settings:
    return hub_settings(
        simulator,
        database_url,
        keys,
        tmp_path / "secret.key",
        control.client(),
        reconcile_interval=1.0,
    )


@pytest.fixture
def hub(settings: Settings) -> Iterator[Services]:
    services = Services.build(settings)
    yield services
    services.close()


@pytest.fixture
def sender(settings: Settings) -> Iterator[Celery]:
    app = create_app(settings)
    yield app
    app.close()


def _environment(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KISSBOT_")}
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "KISSBOT_REDIS_URL": settings.redis_url,
            "KISSBOT_DATABASE_URL": settings.database_url,
            "KISSBOT_KEY_PREFIX": settings.key_prefix,
            "KISSBOT_CELERY_QUEUE": settings.celery_queue,
            "KISSBOT_SECRET_KEY_FILE": str(settings.secret_key_file),
            "KISSBOT_TWITCH__HELIX_URL": settings.twitch.helix_url,
            "KISSBOT_TWITCH__OAUTH_URL": settings.twitch.oauth_url,
            "KISSBOT_TWITCH__CLIENT_ID": settings.twitch.client_id,
            "KISSBOT_TWITCH__CLIENT_SECRET": settings.twitch.client_secret,
            "KISSBOT_EVENTSUB__RECONCILE_INTERVAL": str(settings.eventsub.reconcile_interval),
            "KISSBOT_EVENTSUB__REQ_RATE_PER_S": str(settings.eventsub.req_rate_per_s),
            "KISSBOT_EVENTSUB__REQ_JITTER_MS": "0",
        }
    )
    return env


@pytest.fixture
def start(settings: Settings, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start_process(*args: str) -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"{args[0]}-{len(started)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.celery_app", *args],
            cwd=ROOT,
            env=_environment(settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        started.append(process)
        return process

    yield start_process
    for process in started:
        process.send_signal(signal.SIGTERM)
    for process in started:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def worker(start: Callable[..., subprocess.Popen[bytes]], settings: Settings, name: str) -> None:
    start(
        "worker",
        "-Q",
        settings.celery_queue,
        "-n",
        f"{name}-{uuid.uuid4().hex[:6]}@%h",
        "-c",
        "2",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
    )


def desire(hub: Services, *channels: str) -> None:
    with hub.sessions.begin() as session:
        for channel in channels:
            store.add_desired(
                session,
                channel_id=channel,
                type="stream.online",
                version="1",
                condition={"broadcaster_user_id": channel},
                transport="conduit",
                requested_by="test",
            )


def enabled_channels(hub: Services) -> list[str]:
    try:
        body = hub.helix.request("GET", "eventsub/subscriptions", principal=Principal.app()).body
    except HelixError:  # an injected fault hit the test's own look
        return []
    return sorted(
        s["condition"]["broadcaster_user_id"] for s in body["data"] if s["status"] == "enabled"
    )


def test_subscribe_task_places_a_new_desire_at_once(
    hub: Services,
    sender: Celery,
    start: Callable[..., subprocess.Popen[bytes]],
    settings: Settings,
) -> None:
    make_conduit(hub)
    worker(start, settings, "w1")
    desire(hub, "101")
    result = sender.send_task("kiss.subscribe", kwargs={"desired_id": 1, "channel_id": "101"})
    assert result.get(timeout=60)["outcome"] in (
        "done",
        "queued: another reconciliation holds the lock",
    )
    wait_for(lambda: enabled_channels(hub) == ["101"], what="the subscription on Twitch")
    outcome: Any = wait_for(lambda: hub.redis.xrange(hub.keys.subscription_outcomes("101")))
    assert outcome[-1][1][b"status"] == b"active"


def test_beat_reconciles_and_celery_call_resync_removes_orphans(
    hub: Services,
    start: Callable[..., subprocess.Popen[bytes]],
    settings: Settings,
) -> None:
    conduit = make_conduit(hub)
    worker(start, settings, "w1")
    start("beat", "--schedule", str(settings.secret_key_file.parent / "beat"), "-l", "INFO")
    desire(hub, "101", "102")  # no task sent: only beat's reconcile can place them
    wait_for(lambda: enabled_channels(hub) == ["101", "102"], what="beat's reconcile")
    hub.helix.request(
        "POST",
        "eventsub/subscriptions",
        principal=Principal.app(),
        json={
            "type": "stream.offline",
            "version": "1",
            "condition": {"broadcaster_user_id": "999"},
            "transport": {"method": "conduit", "conduit_id": conduit},
        },
    )
    assert enabled_channels(hub) == ["101", "102", "999"]
    called = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "workers.celery_app", "call", "kiss.resync"],
        cwd=ROOT,
        env=_environment(settings),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert called.stdout.strip()  # the task id
    wait_for(lambda: enabled_channels(hub) == ["101", "102"], what="the orphan's deletion")


def test_two_workers_racing_create_each_subscription_once(
    hub: Services,
    sender: Celery,
    start: Callable[..., subprocess.Popen[bytes]],
    settings: Settings,
    control: SimulatorControl,
) -> None:
    make_conduit(hub)
    worker(start, settings, "w1")
    worker(start, settings, "w2")
    channels = [str(200 + i) for i in range(20)]
    desire(hub, *channels)
    control.fault("/helix/eventsub/subscriptions", latency_ms=30, count=40)
    results = [sender.send_task("kiss.reconcile") for _ in range(6)]
    results += [sender.send_task("kiss.subscribe", kwargs={"channel_id": c}) for c in channels[:6]]
    for result in results:
        result.get(timeout=90)
    wait_for(lambda: enabled_channels(hub) == sorted(channels), within=60, what="20 subs")
    with hub.sessions() as session:
        creates = [e for e in hub_state.recent_audit(session, limit=500) if e.action == "create"]
    assert len(creates) == 20  # nobody created twice, nobody needed a 409


def test_converges_under_5xx_429_latency_and_an_expired_token(
    hub: Services,
    sender: Celery,
    start: Callable[..., subprocess.Popen[bytes]],
    settings: Settings,
    control: SimulatorControl,
) -> None:
    make_conduit(hub)
    control.expire_token(hub.tokens.app_token())  # the workers' stored app token is dead
    worker(start, settings, "w1")
    control.fault("/helix/eventsub/subscriptions", kind="5xx", count=4)
    control.fault("/helix/eventsub/subscriptions", kind="ratelimit", count=2)
    control.fault("/helix/eventsub/subscriptions", latency_ms=100, count=5)
    desire(hub, "301", "302", "303")
    sender.send_task("kiss.subscribe", kwargs={"channel_id": "301"})
    wait_for(
        lambda: enabled_channels(hub) == ["301", "302", "303"],
        within=60,
        what="convergence under faults",
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def two_placed(
    hub: Services, sender: Celery, start: Callable[..., subprocess.Popen[bytes]], settings: Settings
) -> None:
    """A worker, and channels 401 and 402 subscribed on Twitch."""
    make_conduit(hub)
    worker(start, settings, "w1")
    desire(hub, "401", "402")
    sender.send_task("kiss.subscribe").get(timeout=60)
    wait_for(lambda: enabled_channels(hub) == ["401", "402"], what="two subscriptions")


def test_revoked_task_marks_the_desire_revoked_with_twitchs_reason(
    hub: Services,
    sender: Celery,
    start: Callable[..., subprocess.Popen[bytes]],
    settings: Settings,
    control: SimulatorControl,
) -> None:
    two_placed(hub, sender, start, settings)
    with hub.sessions() as session:
        revoked_id = next(
            d.subscription_id for d in store.list_desired(session) if d.channel_id == "401"
        )
    # Twitch revokes first (a resync may list it at any time); the listener then sends the task.
    assert revoked_id is not None
    control.revoke(revoked_id)
    answer = sender.send_task(
        "kiss.revoked",
        kwargs={
            "subscription_id": revoked_id,
            "channel_id": "401",
            "type": "stream.online",
            "version": "1",
            "reason": "authorization_revoked",
        },
    ).get(timeout=30)
    assert answer["desired"] == 1
    with hub.sessions() as session:
        revoked = [d for d in store.list_desired(session) if d.channel_id == "401"]
    assert [(d.state, d.reason) for d in revoked] == [("revoked", "authorization_revoked")]


def test_unsubscribe_task_deletes_what_control_removed(
    hub: Services,
    sender: Celery,
    start: Callable[..., subprocess.Popen[bytes]],
    settings: Settings,
) -> None:
    two_placed(hub, sender, start, settings)
    with hub.sessions.begin() as session:  # what workers/control.py does before sending it
        condition = {"broadcaster_user_id": "402"}
        kwargs = {"channel_id": "402", "type": "stream.online", "version": "1"}
        assert store.remove_desired(session, condition=condition, **kwargs)
    removed = sender.send_task(
        "kiss.unsubscribe",
        kwargs={"channel_id": "402", "type": "stream.online", "version": "1"},
    ).get(timeout=60)
    assert removed["removed"] is True
    wait_for(lambda: enabled_channels(hub) == ["401"], what="the unsubscribe")
    with hub.sessions() as session:
        assert [d.channel_id for d in store.list_desired(session)] == ["401"]


def test_validate_session_welcomed_and_trim_tasks(
    hub: Services,
    sender: Celery,
    start: Callable[..., subprocess.Popen[bytes]],
    settings: Settings,
) -> None:
    two_placed(hub, sender, start, settings)
    assert sender.send_task("kiss.validate_tokens").get(timeout=30)["valid"] == ["app"]
    welcomed = sender.send_task(
        "kiss.session_welcomed", kwargs={"session_id": "s-1", "user_id": "401"}
    ).get(timeout=60)
    assert welcomed["outcome"] in ("done", "queued: another reconciliation holds the lock")
    assert welcomed.get("created", 0) == 0  # nothing of user 401 is missing
    stream = hub.keys.channel_stream("401")
    hub.redis.sadd(hub.keys.channels(), "401")
    for number in range(3):
        hub.redis.xadd(stream, {"n": str(number)}, id=f"1000-{number}")  # long ago: too old
    trimmed = sender.send_task("kiss.trim_streams").get(timeout=30)
    assert trimmed["trimmed"] == 3
    assert hub.redis.xlen(stream) == 0
