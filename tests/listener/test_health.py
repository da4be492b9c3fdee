from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest
import redis
import redis.asyncio as aioredis

from kiss.keys import Keys
from kiss.listener.health import (
    STOPPED_STATE_SECONDS,
    SlotSnapshot,
    Snapshot,
    StateReporter,
    assess,
    check_health,
    restore_slot,
    state_word,
)


def slot(name: str, phase: str = "active", reconnects: int = 0, reason: str = "") -> SlotSnapshot:
    return SlotSnapshot(name, phase, "S" if phase == "active" else None, 10.0, 5.0, 3, reconnects,
                        0, 0, 0, reason)  # fmt: skip


def snapshot(*slots: SlotSnapshot, **kwargs: object) -> Snapshot:
    fields: dict[str, object] = {
        "listener_id": "L1",
        "transport": "conduit",
        "started_at": 1.0,
        "slots": slots,
        "pending": 0,
        "written": 3,
        "duplicates": 0,
        "shards": ("0",),
    }
    fields.update(kwargs)
    return Snapshot(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("snap", "healthy", "word", "problem"),
    [
        (snapshot(slot("a"), slot("b", "handover")), True, "up", ""),
        (
            snapshot(slot("a"), slot("b", "lost", reason="4006 network error")),
            False,
            "connecting",
            "b is lost (4006 network error)",
        ),
        (snapshot(slot("a"), stopping=True), False, "stopping", "stopping"),
        (snapshot(slot("a"), draining=True), True, "draining", ""),
        (snapshot(transport="websocket"), False, "connecting", "no websocket session"),
        (snapshot(), True, "up", ""),  # a conduit listener whose peers hold every shard
    ],
)
def test_health_verdict_and_state_word(
    snap: Snapshot, healthy: bool, word: str, problem: str
) -> None:
    ok, problems = assess(snap)
    assert ok is healthy
    assert state_word(snap) == word
    assert problem in "; ".join(problems)


@pytest.fixture
async def aredis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_report_writes_heartbeat_state_slots_and_counters(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    current = [snapshot(slot("conduit:C:shard:0", reconnects=2))]
    reporter = StateReporter(aredis, keys, lambda: current[0], interval=1.0, clock=lambda: 50.0)
    await reporter.report()
    assert redis_client.sismember(keys.listeners(), "L1")
    assert redis_client.pttl(keys.heartbeat("listener:L1")) > 0
    state = redis_client.hgetall(keys.listener_state("L1"))
    assert state["state"] == "up" and state["healthy"] == "1" and state["shards"] == "0"
    assert orjson.loads(state["slots"])[0]["slot"] == "conduit:C:shard:0"
    slot_state = redis_client.hgetall(keys.listener_slot("conduit:C:shard:0"))
    assert slot_state["listener"] == "L1" and slot_state["phase"] == "active"
    assert redis_client.hget(keys.counters(), "reconnects") == "2"
    current[0] = snapshot(slot("conduit:C:shard:0", reconnects=3))
    await reporter.report()
    assert redis_client.hget(keys.counters(), "reconnects") == "3"  # deltas, not totals
    # ... and per slot in the listener's state, for `kiss metrics`.
    assert redis_client.hget(keys.listener_state("L1"), "reconnects:conduit:C:shard:0") == "3"
    await reporter.report(final=True)
    assert not redis_client.exists(keys.heartbeat("listener:L1"))
    assert redis_client.hget(keys.listener_state("L1"), "state") == "stopped"


async def test_a_clean_stop_deregisters_and_nothing_reports_after_it(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    """A stopped listener is not listed (status would show it "gone" for a day); its state
    stays a few minutes, and a periodic report racing the stop does not bring it back."""
    reporter = StateReporter(aredis, keys, lambda: snapshot(slot("s")), interval=1.0)
    await reporter.report()
    assert redis_client.sismember(keys.listeners(), "L1")
    await reporter.report(final=True)
    await reporter.report()
    assert not redis_client.sismember(keys.listeners(), "L1")
    assert not redis_client.exists(keys.heartbeat("listener:L1"))
    assert redis_client.hget(keys.listener_state("L1"), "state") == "stopped"
    assert 0 < redis_client.ttl(keys.listener_state("L1")) <= STOPPED_STATE_SECONDS


async def test_check_health_needs_a_heartbeat_and_a_healthy_verdict(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    assert check_health(redis_client, keys) == (False, "no listener has ever reported")
    current = [snapshot(slot("s", "lost", reason="keepalive timeout"))]
    reporter = StateReporter(aredis, keys, lambda: current[0])
    await reporter.report()
    ok, why = check_health(redis_client, keys)
    assert not ok and "keepalive timeout" in why
    current[0] = snapshot(slot("s"))
    await reporter.report()
    assert check_health(redis_client, keys) == (True, "L1: healthy")
    assert check_health(redis_client, keys, "other")[0] is False
    await reporter.report(final=True)
    ok, why = check_health(redis_client, keys, "L1")
    assert not ok and "no heartbeat" in why


async def test_restore_slot_reads_what_a_previous_holder_left(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    assert await restore_slot(aredis, keys, "s") == (None, set(), None)
    redis_client.hset(keys.listener_slot("s"), "last_message_at", "12.5")
    redis_client.sadd(keys.listener_slot_channels("s"), "1", "2")
    assert await restore_slot(aredis, keys, "s") == (12.5, {"1", "2"}, None)
    redis_client.hset(keys.listener_slot("s"), "session_id", "S1")  # the session it held
    assert (await restore_slot(aredis, keys, "s")).session_id == "S1"
