"""The listener as a process (``kiss listener``) against a simulator process and a real Redis:
SIGTERM, kill -9 and restart, and two processes sharing one conduit while one is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from kiss.auth.provider import Principal, StaticTokenProvider
from kiss.helix.client import HelixClient
from kiss.helix.config import HelixConfig
from kiss.keys import Keys
from kiss.listener.leases import lease_holder
from kiss.listener.spool import spooled_entries
from kiss.settings import load_settings
from kiss.simulator.config import DEMO_CLIENT_SECRET
from kiss.simulator.testing import SimulatorControl, SimulatorHandle, run_simulator_process
from tests.redis_server import PrivateRedis
from tests.waiting import PROCESS_TIME_UNIT, wait_for

LEASE = 1.0
ROOT = Path(__file__).resolve().parents[2]


def text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with run_simulator_process(time_unit=PROCESS_TIME_UNIT) as handle:
        yield handle


class Hub:
    def __init__(self, sim: SimulatorHandle, keys: Keys, redis_url: str, tmp: Path) -> None:
        self.sim = sim
        self.keys = keys
        self.redis_url = redis_url
        self.tmp = tmp
        self.redis = redis.Redis.from_url(redis_url, decode_responses=True)
        self.control = SimulatorControl(sim.base_url)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KISSBOT_")},
            "PYTHONPATH": str(ROOT),
            "KISSBOT_REDIS_URL": redis_url,
            "KISSBOT_KEY_PREFIX": keys.prefix,
            "KISSBOT_CELERY_QUEUE": f"q-{keys.prefix}",
            "KISSBOT_TWITCH__EVENTSUB_WS_URL": sim.ws_url,
            "KISSBOT_TWITCH__HELIX_URL": sim.helix_url,
            "KISSBOT_TWITCH__OAUTH_URL": sim.oauth_url,
            "KISSBOT_EVENTSUB__CONDUIT_SHARDS": "2",
            "KISSBOT_EVENTSUB__SHARD_LEASE_SECONDS": str(LEASE),
            "KISSBOT_EVENTSUB__WS_BACKOFF_BASE": "0.05",
            "KISSBOT_EVENTSUB__WS_BACKOFF_MAX": "0.5",
            "KISSBOT_EVENTSUB__REQ_JITTER_MS": "0",
        }
        settings = load_settings(
            redis_url=redis_url,
            key_prefix=keys.prefix,
            twitch={"helix_url": sim.helix_url},
            eventsub={"req_jitter_ms": 0},
        )
        token = self.control.token()["access_token"]
        self.helix = HelixClient(
            HelixConfig.from_settings(settings),
            redis.Redis.from_url(redis_url),
            StaticTokenProvider(app=token),
            keys=keys,
        )

    def start(self, name: str) -> subprocess.Popen[bytes]:
        command = [
            sys.executable, "-m", "kiss", "listener",
            "--listener-id", name, "--metrics-port", "0", "--time-unit", str(PROCESS_TIME_UNIT),
        ]  # fmt: skip
        log = (self.tmp / f"{name}.log").open("ab")
        process = subprocess.Popen(command, env=self.env, cwd=self.tmp, stdout=log, stderr=log)
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def conduit_id(self) -> str:
        return str(wait_for(lambda: self.redis.hget(self.keys.conduit(), "id"), what="conduit"))

    def subscribe(self, channel: str) -> None:
        body = {
            "type": "channel.update",
            "version": "2",
            "condition": {"broadcaster_user_id": channel},
            "transport": {"method": "conduit", "conduit_id": self.conduit_id()},
        }
        self.helix.request("POST", "eventsub/subscriptions", principal=Principal.app(), json=body)

    def shards(self) -> list[dict[str, Any]]:
        data = self.control.call("GET", "/conduits")["data"]
        return list(data[0]["shards"]) if data else []

    def enabled_shards(self) -> int:
        return sum(1 for shard in self.shards() if shard["status"] == "enabled")

    def holders(self) -> dict[str, str | None]:
        conduit = self.conduit_id()
        return {
            shard: lease_holder(self.redis.get(self.keys.shard_lease(conduit, shard)))
            for shard in ("0", "1")
        }

    def entries(self, channel: str) -> list[dict[str, str]]:
        raw = self.redis.xrange(self.keys.channel_stream(channel)) or []
        return [
            {text(k) or "": text(v) or "" for k, v in (fields or {}).items()} for _, fields in raw
        ]

    def notifications(self, channel: str) -> int:
        return sum(1 for entry in self.entries(channel) if entry["kind"] == "notification")

    def trigger(self, channel: str) -> int:
        return int(self.control.trigger("channel.update", channel)["sent"])

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        self.helix.close()
        self.redis.close()


@pytest.fixture
def hub(sim: SimulatorHandle, keys: Keys, redis_url: str, tmp_path: Path) -> Iterator[Hub]:
    hub = Hub(sim, keys, redis_url, tmp_path)
    yield hub
    hub.close()


CHANNELS = [str(800 + i) for i in range(8)]  # spread over both shards by the conduit's hash


def routed_everywhere(hub: Hub, before: dict[str, int]) -> bool:
    """One more event sent to each channel reached its stream."""
    return all(hub.notifications(channel) > before[channel] for channel in CHANNELS)


def send_round(hub: Hub) -> dict[str, int]:
    before = {channel: hub.notifications(channel) for channel in CHANNELS}
    for channel in CHANNELS:
        hub.trigger(channel)
    return before


def start_and_route(hub: Hub, name: str) -> subprocess.Popen[bytes]:
    """A listener with both shards bound, the channels subscribed, one round routed."""
    process = hub.start(name)
    wait_for(lambda: hub.enabled_shards() == 2, what="both shards bound")
    for channel in CHANNELS:
        hub.subscribe(channel)
    before = send_round(hub)
    wait_for(lambda: routed_everywhere(hub, before), what="events routed")
    return process


def test_sigterm_flushes_closes_and_exits_zero(hub: Hub) -> None:
    process = start_and_route(hub, "solo")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0, hub.log("solo")
    state = hub.redis.hgetall(hub.keys.listener_state("solo"))
    assert state["state"] == "stopped"
    assert not hub.redis.exists(hub.keys.heartbeat("listener:solo"))
    assert hub.holders() == {"0": None, "1": None}  # handed back at once, not left to expire
    assert "stopped cleanly" in hub.log("solo")
    # The sockets were closed by the client: the shards are disabled on Twitch's side.
    wait_for(lambda: hub.enabled_shards() == 0, what="shards disabled")


def test_sigterm_with_redis_gone_ends_in_time_and_keeps_the_events_in_the_spool(
    sim: SimulatorHandle, keys: Keys, tmp_path: Path
) -> None:
    server = PrivateRedis(str(tmp_path))
    server.start()
    hub = Hub(sim, keys, server.url, tmp_path)
    spool = tmp_path / ".kiss-spool" / "stranded"
    try:
        process = start_and_route(hub, "stranded")
        server.stop()
        sent = sum(hub.trigger(channel) for channel in CHANNELS)
        # Writes fail: the events go to the spool on disk, where a restart finds them.
        wait_for(lambda: spooled_entries(spool) >= sent, what="the events in the spool")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, hub.log("stranded")
        assert time.monotonic() - started < 15
        assert "entries are kept in the spool" in hub.log("stranded")
        assert spooled_entries(spool) >= sent
    finally:
        hub.close()
        server.stop()


def test_kill_9_and_restart_resumes_with_gap_markers(hub: Hub) -> None:
    first = start_and_route(hub, "phoenix")
    first.kill()
    first.wait()
    wait_for(lambda: hub.enabled_shards() == 0, what="shards disabled after the kill")
    assert sum(hub.trigger(channel) for channel in CHANNELS) == 0  # nobody to deliver to

    hub.start("phoenix")
    wait_for(lambda: hub.enabled_shards() == 2, what="shards bound again")
    before = send_round(hub)
    wait_for(lambda: routed_everywhere(hub, before), what="events after the restart")
    for channel in CHANNELS:
        kinds = [entry["kind"] for entry in hub.entries(channel)]
        assert kinds == ["notification", "gap", "notification"], (channel, kinds)
        gap = orjson.loads(hub.entries(channel)[1]["event"])
        assert gap["from"] < gap["to"]
        ids = [entry["message_id"] for entry in hub.entries(channel)]
        assert len(ids) == len(set(ids))


def test_two_listeners_share_a_conduit_and_survive_one_kill(hub: Hub) -> None:
    one = hub.start("one")
    hub.conduit_id()
    hub.start("two")
    wait_for(
        lambda: sorted(str(v) for v in hub.holders().values()) == ["one", "two"],
        what="one shard each",
    )
    wait_for(lambda: hub.enabled_shards() == 2, what="both shards bound")
    for channel in CHANNELS:
        hub.subscribe(channel)
    before = send_round(hub)
    wait_for(lambda: routed_everywhere(hub, before), what="events through both listeners")

    one.kill()
    one.wait()
    # The bound the config sets: the lease, plus one lease round (lease / 3), with slack.
    wait_for(
        lambda: set(hub.holders().values()) == {"two"},
        within=LEASE * 5,
        what="takeover by two within the lease bound",
    )
    wait_for(lambda: hub.enabled_shards() == 2, what="both shards bound to two")
    before = send_round(hub)
    wait_for(lambda: routed_everywhere(hub, before), what="events after the takeover")
    wait_for(
        lambda: hub.redis.hget(hub.keys.listener_state("two"), "shards") == "0,1",
        what="two reports both shards",
    )


def test_refused_credentials_end_the_process_with_the_reason(hub: Hub) -> None:
    hub.env["KISSBOT_TWITCH__CLIENT_ID"] = "not-a-client"
    hub.env["KISSBOT_TWITCH__CLIENT_SECRET"] = "wrong-secret-value"
    process = hub.start("refused")
    assert process.wait(timeout=30) == 1
    log = hub.log("refused")
    assert "listener cannot start" in log and "client credentials refused" in log
    assert "wrong-secret-value" not in log


def test_json_logs_name_the_process_the_listener_and_the_slot(hub: Hub) -> None:
    hub.env["KISSBOT_LOG_FORMAT"] = "json"
    process = start_and_route(hub, "jsonl")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0, hub.log("jsonl")
    lines = [orjson.loads(line) for line in hub.log("jsonl").splitlines() if line.strip()]
    assert lines and all(line["process"] == "listener" for line in lines)
    assert all(line["listener_id"] == "jsonl" for line in lines)
    assert {"time", "level", "logger", "message", "pid"} <= set(lines[0])
    welcomed = [line for line in lines if "welcomed" in line["message"]]
    assert welcomed and all(line["slot"].startswith("conduit:") for line in welcomed)
    assert any("stopped cleanly" in line["message"] for line in lines)
    assert DEMO_CLIENT_SECRET not in hub.log("jsonl")  # the app token's secret


def test_kiss_metrics_counts_a_dropped_session_for_its_listener_and_shard(
    hub: Hub, sqlite_url: str
) -> None:
    from kiss.store.db import upgrade

    upgrade(sqlite_url)  # kiss metrics adds the store's counters
    env = {**hub.env, "KISSBOT_DATABASE_URL": sqlite_url}
    process = start_and_route(hub, "flaky")
    shard = next(shard for shard in hub.shards() if shard["status"] == "enabled")
    hub.control.drop(
        shard["transport"]["session_id"]
    )  # a network failure (1006): the listener dials again

    def metrics() -> dict[str, Any] | None:
        done = subprocess.run(
            [sys.executable, "-m", "kiss", "metrics", "--json"],
            env=env, cwd=hub.tmp, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        document: dict[str, Any] = orjson.loads(done.stdout)
        return document if document["reconnects"] >= 1 else None

    document = wait_for(metrics, what="a reconnect in kiss metrics", within=30)
    assert document is not None
    counts = document["reconnects_by_listener"]["flaky"]
    assert counts["total"] >= 1
    shards = {slot: n for slot, n in counts.items() if slot != "total"}
    assert list(shards.values()) == [1] and next(iter(shards)).startswith("conduit:")
    table = subprocess.run(
        [sys.executable, "-m", "kiss", "metrics"],
        env=env, cwd=hub.tmp, capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert "Reconnects:" in table and "listener flaky: 1 (shard " in table
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
