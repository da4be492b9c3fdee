"""The read model against a real Redis (own key prefix) and a migrated SQLite database."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy.orm import Session

from kiss.keys import Keys
from kiss.reconcile.lock import ReconcileLock
from kiss.status.gather import (
    gather_counters,
    gather_reconnects,
    gather_status,
    list_subscriptions,
)
from kiss.store import hub_state
from kiss.store.db import make_engine, session_factory, upgrade
from kiss.store.models import ActiveSubscription, Channel, DesiredSubscription

NOW = 1_762_350_000.0


@pytest.fixture
def session(sqlite_url: str) -> Iterator[Session]:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    with session_factory(engine)() as session:
        yield session
    engine.dispose()


def desired(channel: str, type: str, state: str, reason: str = "") -> DesiredSubscription:
    return DesiredSubscription(
        channel_id=channel,
        type=type,
        version="1",
        condition=json.dumps({"broadcaster_user_id": channel}),
        state=state,
        reason=reason,
        requested_by="example",
        subscription_id="sub-" + type if state == "active" else None,
    )


def active(channel: str, type: str) -> ActiveSubscription:
    return ActiveSubscription(
        twitch_id=f"sub-{channel}-{type}",
        channel_id=channel,
        type=type,
        version="1",
        condition="{}",
        status="enabled",
        method="conduit",
    )


@pytest.fixture
def populated(session: Session, redis_client: redis.Redis, keys: Keys) -> Session:
    session.add_all(
        [
            Channel(channel_id="111", login="el_serda"),
            desired("111", "stream.online", "active"),
            desired("111", "channel.follow", "failed", "403: missing scope"),
            desired("222", "stream.online", "active"),
            active("111", "stream.online"),
            active("222", "stream.online"),
        ]
    )
    hub_state.set_state(session, hub_state.LAST_RECONCILE, {"at": NOW - 30, "outcome": "ok"})
    hub_state.bump_counters(session, reconciliations=3)
    session.commit()
    redis_client.sadd(keys.listeners(), "host-1", "host-2")
    redis_client.hset(keys.listener_state("host-1"), mapping={"state": "up", "shards": "0,1"})
    redis_client.hset(
        keys.listener_state("host-2"), mapping={"state": "connecting", "problems": "stale"}
    )
    redis_client.set(keys.heartbeat("listener:host-1"), "1", ex=60)
    redis_client.set(keys.heartbeat("beat"), "1", ex=60)
    redis_client.hset(keys.conduit(), mapping={"id": "c-1", "shard_count": "2"})
    redis_client.set(keys.shard_lease("c-1", "0"), "host-1", ex=60)
    redis_client.hset(keys.counters(), mapping={"events_routed": "47", "reconnects": "2"})
    redis_client.hset(
        keys.bot_presence("111", "example"),
        mapping={
            "channel_id": "111",
            "channel_name": "el_serda",
            "bot": "example",
            "state": "running",
            "lag": "3",
            "pending": "1",
            "last_seen": str(NOW - 1),
        },
    )
    redis_client.hset(
        keys.bot_presence("333", "late"),
        mapping={"channel_id": "333", "channel_name": "newcomer", "bot": "late", "lag": ""},
    )
    return session


def test_status_combines_redis_and_the_store(
    populated: Session, redis_client: redis.Redis, keys: Keys
) -> None:
    status = gather_status(redis_client, keys, populated, transport="conduit", now=NOW)
    assert [(x.listener_id, x.alive, x.state, x.shards, x.problems) for x in status.listeners] == [
        ("host-1", True, "up", ("0", "1"), ""),
        ("host-2", False, "gone (no heartbeat)", (), ""),
    ]
    assert status.conduit_id == "c-1"
    assert [(s.shard_id, s.holder) for s in status.shards] == [("0", "host-1"), ("1", None)]
    assert not status.up
    assert (status.desired, status.active) == (3, 2)
    assert [(m.channel_id, m.type, m.state, m.reason) for m in status.missing] == [
        ("111", "channel.follow", "failed", "403: missing scope")
    ]
    assert status.last_reconcile_at == NOW - 30
    assert status.last_reconcile_outcome == "ok"
    assert status.counters == {"events_routed": 47, "reconnects": 2, "reconciliations": 3}
    assert status.processes == {"beat": True, "listener:host-1": True}
    assert not status.draining
    channels = {c.channel_id: c for c in status.channels}
    assert set(channels) == {"111", "222", "333"}
    assert (channels["111"].name, channels["111"].desired, channels["111"].active) == (
        "el_serda",
        2,
        1,
    )
    bot = channels["111"].bots[0]
    assert (bot.bot, bot.lag, bot.pending, bot.last_seen) == ("example", 3, 1, NOW - 1)
    assert channels["333"].name == "newcomer"
    assert channels["333"].bots[0].lag is None


def test_drain_flag_is_seen(session: Session, redis_client: redis.Redis, keys: Keys) -> None:
    redis_client.set(keys.drain(), "1")
    status = gather_status(redis_client, keys, session, transport="websocket", now=NOW)
    assert status.draining
    assert status.channels == ()
    assert status.last_reconcile_at is None


def test_the_reconcile_locks_holder_is_named(
    session: Session, redis_client: redis.Redis, keys: Keys
) -> None:
    def holder() -> str:
        status = gather_status(redis_client, keys, session, transport="conduit", now=NOW)
        return status.reconcile_holder

    assert holder() == ""
    ReconcileLock(redis_client, keys, holder="worker1@host pid 42").acquire()
    assert holder().startswith("worker1@host pid 42 (fence 1, expires in ")


def test_websocket_sessions_count_per_listener(
    session: Session, redis_client: redis.Redis, keys: Keys
) -> None:
    redis_client.sadd(keys.listeners(), "host-1")
    redis_client.set(keys.heartbeat("listener:host-1"), "1", ex=60)
    for session_id in ("s1", "s2"):
        redis_client.hset(
            keys.ws_sessions(),
            session_id,
            json.dumps({"user_id": "111", "listener": "host-1", "connected_at": NOW}),
        )
    status = gather_status(redis_client, keys, session, transport="websocket", now=NOW)
    assert status.listeners[0].sessions == 2
    assert status.up


def test_counters_add_the_listener_and_the_control_plane(
    populated: Session, redis_client: redis.Redis, keys: Keys
) -> None:
    assert gather_counters(redis_client, keys, populated)["reconciliations"] == 3


def test_subscriptions_filter_by_channel_type_and_state(populated: Session) -> None:
    assert len(list_subscriptions(populated)) == 3
    assert [r.type for r in list_subscriptions(populated, channel_id="111")] == [
        "channel.follow",
        "stream.online",
    ]
    failed = list_subscriptions(populated, state="failed")
    assert [(r.channel_id, r.reason) for r in failed] == [("111", "403: missing scope")]
    online = list_subscriptions(populated, type="stream.online", channel_id="222")
    assert [(r.subscription_id, r.requested_by) for r in online] == [
        ("sub-stream.online", "example")
    ]


def test_reconnects_per_listener_and_slot(redis_client: redis.Redis, keys: Keys) -> None:
    redis_client.sadd(keys.listeners(), "host-1", "host-2")
    redis_client.hset(
        keys.listener_state("host-1"),
        mapping={
            "state": "up",
            "reconnects": "3",
            "reconnects:conduit:C:shard:0": "2",
            "reconnects:conduit:C:shard:1": "1",
        },
    )
    redis_client.hset(keys.listener_state("host-2"), mapping={"state": "up"})
    assert gather_reconnects(redis_client, keys) == {
        "host-1": {"total": 3, "conduit:C:shard:0": 2, "conduit:C:shard:1": 1},
        "host-2": {"total": 0},
    }
