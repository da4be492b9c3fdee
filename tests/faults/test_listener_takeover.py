"""Listener identity and shard leases under faults, with real processes: a listener killed
(kill -9) under a flood and restarted under the same id, two listeners sharing a conduit while
one is killed, and Redis stopped for longer than the lease while a listener runs.

Each test prints its figures and asserts on correctness (who holds what, what was lost or
duplicated), not on speed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiss.keys import Keys
from kiss.listener.leases import lease_holder
from kiss.simulator.testing import SimulatorHandle, run_simulator_process
from tests.redis_server import PrivateRedis
from tests.waiting import PROCESS_TIME_UNIT, wait_for
from tests.workers.test_listener import Hub

CHANNELS = [str(9300 + i) for i in range(8)]  # spread over the shards by the conduit's hash


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with run_simulator_process(time_unit=PROCESS_TIME_UNIT) as handle:
        yield handle


@pytest.fixture
def hub(sim: SimulatorHandle, keys: Keys, redis_url: str, tmp_path: Path) -> Iterator[Hub]:
    hub = Hub(sim, keys, redis_url, tmp_path)
    yield hub
    hub.close()


def holders(hub: Hub, shards: int) -> dict[str, str | None]:
    conduit = hub.conduit_id()
    return {
        str(shard): lease_holder(hub.redis.get(hub.keys.shard_lease(conduit, str(shard))))
        for shard in range(shards)
    }


def bound_sessions(hub: Hub) -> dict[str, str]:
    """Shard id -> session id of every enabled shard (Twitch's side)."""
    return {
        str(shard["id"]): str(shard["transport"]["session_id"])
        for shard in hub.shards()
        if shard["status"] == "enabled"
    }


def notifications(hub: Hub) -> list[dict[str, str]]:
    return [
        entry
        for channel in CHANNELS
        for entry in hub.entries(channel)
        if entry["kind"] == "notification"
    ]


def subscribe_all(hub: Hub) -> None:
    for channel in CHANNELS:
        hub.subscribe(channel)


def test_kill_9_under_flood_and_restart_under_the_same_id(hub: Hub) -> None:
    """The restarted process takes its own shards back at once (its old leases, 30 s long,
    have not expired), and every event sent to it reaches Redis: only what the killed process
    had received and not yet written is lost."""
    hub.env["KISSBOT_EVENTSUB__SHARD_LEASE_SECONDS"] = "30"
    first = hub.start("phoenix")
    wait_for(lambda: len(bound_sessions(hub)) == 2, what="both shards bound")
    subscribe_all(hub)
    first_sessions = set(bound_sessions(hub).values())
    load = hub.control.load(rate=2000, channels=CHANNELS, duration=6.0, type_="channel.update")
    wait_for(lambda: len(notifications(hub)) > 1000, what="the flood reaching Redis")

    first.kill()
    first.wait()
    killed_at = time.time()
    wait_for(lambda: time.time() > killed_at + 0.5, what="half a second of the flood to Twitch")
    restarted_at = time.time()
    hub.start("phoenix")
    wait_for(
        lambda: (sessions := bound_sessions(hub)) and not set(sessions.values()) & first_sessions,
        within=20,  # far under the 30 s the old leases still had
        what="both shards bound to the restarted process",
    )
    resumed = time.time() - restarted_at
    assert set(holders(hub, 2).values()) == {"phoenix"}
    assert hub.redis.pttl(hub.keys.shard_lease(hub.conduit_id(), "0")) > 25_000  # taken, renewed

    wait_for(lambda: not hub.control.load_status(load)["running"], within=30, what="flood end")
    status = hub.control.load_status(load)
    by_session = hub.control.stats()["by_session"]
    to_first = sum(count for session, count in by_session.items() if session in first_sessions)
    to_second = int(status["delivered"]) - to_first

    def written() -> tuple[int, int]:
        entries = notifications(hub)
        after = sum(1 for entry in entries if float(entry["received_ts"]) > killed_at)
        return len(entries) - after, after

    wait_for(lambda: written()[1] >= to_second, within=20, what="the restarted one's writes")
    by_first, by_second = written()
    ids = [entry["message_id"] for entry in notifications(hub)]
    print(
        f"\nkill -9 + restart: sent {status['sent']}, delivered {status['delivered']}, "
        f"lost at Twitch {status['dropped']}, resumed {resumed:.2f} s after the restart; "
        f"first process: delivered {to_first}, written {by_first}, lost after the socket "
        f"{to_first - by_first}; restarted process: delivered {to_second}, written {by_second}"
    )
    assert len(ids) == len(set(ids)), "duplicated entries"
    assert by_second == to_second, "the restarted process lost events"
    assert 0 <= to_first - by_first <= to_first
    gaps = [e for c in CHANNELS for e in hub.entries(c) if e["kind"] == "gap"]
    assert gaps, "an unplanned loss must put gap markers on the channels"


def test_two_listeners_one_killed_the_survivor_holds_every_shard(hub: Hub) -> None:
    """Four shards shared by two listeners (default lease, 2 s): after a kill -9 of one, the
    other holds and has bound all four, and events reach every channel again."""
    hub.env["KISSBOT_EVENTSUB__CONDUIT_SHARDS"] = "4"
    hub.env.pop("KISSBOT_EVENTSUB__SHARD_LEASE_SECONDS")
    one = hub.start("one")
    hub.conduit_id()
    hub.start("two")
    wait_for(
        lambda: sorted(str(h) for h in holders(hub, 4).values()) == ["one"] * 2 + ["two"] * 2,
        within=30,
        what="two shards each",
    )
    wait_for(lambda: len(bound_sessions(hub)) == 4, what="four shards bound")
    subscribe_all(hub)
    load = hub.control.load(rate=500, channels=CHANNELS, duration=8.0, type_="channel.update")
    wait_for(lambda: len(notifications(hub)) > 200, what="the flood reaching Redis")
    before = set(bound_sessions(hub).values())

    one.kill()
    one.wait()
    killed_at = time.time()
    wait_for(
        lambda: set(holders(hub, 4).values()) == {"two"}, within=30, what="two holds every shard"
    )
    held = time.time() - killed_at
    wait_for(
        lambda: (
            len(sessions := bound_sessions(hub)) == 4 and len(set(sessions.values()) - before) == 2
        ),
        within=30,
        what="the two taken shards bound to new sessions of two",
    )
    bound = time.time() - killed_at
    state = wait_for(
        lambda: hub.redis.hget(hub.keys.listener_state("two"), "shards") == "0,1,2,3",
        what="two reports every shard",
    )
    assert state
    wait_for(lambda: not hub.control.load_status(load)["running"], within=30, what="flood end")
    status = hub.control.load_status(load)
    ids = [entry["message_id"] for entry in notifications(hub)]
    print(
        f"\ntwo listeners, one killed: held by the survivor {held:.2f} s and bound "
        f"{bound:.2f} s after the kill; sent {status['sent']}, lost at Twitch "
        f"{status['dropped']}, written {len(ids)}"
    )
    assert len(ids) == len(set(ids)), "duplicated entries"
    assert "lost the lease" not in hub.log("two")


def test_redis_down_past_the_lease_keeps_the_session_and_reclaims_the_shard(
    sim: SimulatorHandle, keys: Keys, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    """Redis stopped for three leases: nobody could take the shards, so when it answers again
    the listener sets its leases again and its sessions were never dropped."""
    hub = Hub(sim, keys, private_redis.url, tmp_path)
    try:
        lease = 1.0  # tests/workers/test_listener.py's LEASE, as Hub sets it
        hub.start("steady")
        wait_for(lambda: len(bound_sessions(hub)) == 2, what="both shards bound")
        subscribe_all(hub)
        sessions = bound_sessions(hub)
        private_redis.stop()
        stopped_at = time.monotonic()
        wait_for(lambda: "renewal failed" in hub.log("steady"), what="renewal failing")
        wait_for(lambda: time.monotonic() > stopped_at + 3 * lease, what="three leases of outage")
        private_redis.start()
        outage = time.monotonic() - stopped_at
        wait_for(lambda: set(holders(hub, 2).values()) == {"steady"}, what="the leases set again")
        wait_for(lambda: hub.log("steady").count("re-claimed") >= 2, what="both re-claimed")
        assert bound_sessions(hub) == sessions, "a session was dropped"
        for channel in CHANNELS:
            hub.trigger(channel)
        wait_for(
            lambda: all(hub.notifications(channel) for channel in CHANNELS),
            what="events after the outage",
        )
        log = hub.log("steady")
        print(
            f"\nredis down {outage:.1f} s (lease {lease:g} s): sessions kept "
            f"{sorted(sessions.values()) == sorted(bound_sessions(hub).values())}, "
            f"re-claimed {log.count('re-claimed')}, lost leases {log.count('lost the lease')}"
        )
        assert "lost the lease" not in log
        assert "session lost" not in log
    finally:
        hub.close()
