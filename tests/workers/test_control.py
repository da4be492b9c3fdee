"""workers/control.py: requests validated, recorded, answered; kiss.subscribe sent by name."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import redis
from celery import Celery
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from kiss.client import HubEventSubClient, SubscriptionRejected
from kiss.client.rows import fields_arg
from kiss.contracts.bot_requests import encode_request
from kiss.errors import RequestRefused
from kiss.eventsub.catalog import Authorization, lookup
from kiss.keys import Keys
from kiss.store import subscriptions as store
from kiss.store.crypto import TokenCipher
from kiss.store.db import make_engine, session_factory, upgrade
from kiss.store.tokens import save_token
from tests.client.conftest import FAST
from workers.control import (
    ControlWorker,
    check_request,
    parse_request,
)


def fields(op: str = "subscribe", **change: Any) -> dict[str, str]:
    base = encode_request(
        "r1",
        "subscribe",
        bot="b",
        channel_id="10",
        channel_name="ten",
        type="stream.online",
        version="1",
        condition={"broadcaster_user_id": "10"},
        now=1.0,
    )
    return {**base, "op": op, **change}


# -- pure parts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"request_id": ""}, "without request_id"),
        ({"op": "ping"}, "unknown op 'ping'"),
        ({"channel_id": ""}, "channel_id is missing"),
        ({"condition": "{oops"}, "condition is not JSON"),
        ({"condition": "[1]"}, "condition must be a JSON object"),
    ],
)
def test_parse_request_names_the_problem(change: dict[str, str], problem: str) -> None:
    with pytest.raises(RequestRefused, match=problem):
        parse_request(fields(**change))


def test_check_request_uses_the_catalog() -> None:
    topic, condition = check_request(parse_request(fields(version="")))
    assert (topic.type, topic.version, condition) == (
        "stream.online",
        "1",
        {"broadcaster_user_id": "10"},
    )
    with pytest.raises(RequestRefused, match="type is missing"):
        check_request(parse_request(fields(type="")))


GRANTS = {
    "10": Authorization(frozenset({"channel:read:subscriptions"})),
    "20": Authorization(frozenset({"moderator:read:followers", "user:read:chat"})),
    "30": Authorization(frozenset({"user:read:chat", "user:bot", "channel:bot"})),
    "40": Authorization(invalid="refresh refused"),  # a token is stored, but not valid any more
}


@pytest.mark.parametrize(
    ("type_", "version", "condition", "transport", "problem"),
    [
        ("stream.online", "1", {"broadcaster_user_id": "99"}, "conduit", None),
        ("channel.subscribe", "1", {"broadcaster_user_id": "10"}, "conduit", None),
        (
            "channel.cheer",
            "1",
            {"broadcaster_user_id": "10"},
            "conduit",
            "user 10 has not granted bits:read (has: channel:read:subscriptions)",
        ),
        ("channel.cheer", "1", {"broadcaster_user_id": "99"}, "conduit", None),
        (
            "channel.cheer",
            "1",
            {"broadcaster_user_id": "99"},
            "websocket",
            "user 99 has not granted bits:read (has: no stored token)",
        ),
        (
            "channel.cheer",
            "1",
            {"broadcaster_user_id": "40"},
            "conduit",
            "token of user 40 is invalid: refresh refused",
        ),
        (
            "channel.follow",
            "2",
            {"broadcaster_user_id": "10", "moderator_user_id": "20"},
            "conduit",
            None,
        ),
        (
            "channel.follow",
            "2",
            {"broadcaster_user_id": "20", "moderator_user_id": "10"},
            "conduit",
            "user 10 has not granted moderator:read:followers",
        ),
        (
            "channel.chat.message",
            "1",
            {"broadcaster_user_id": "10", "user_id": "20"},
            "websocket",
            None,
        ),
        (
            "channel.chat.message",
            "1",
            {"broadcaster_user_id": "10", "user_id": "20"},
            "conduit",
            "user 20 has not granted user:bot",
        ),
        (
            "channel.chat.message",
            "1",
            {"broadcaster_user_id": "10", "user_id": "30"},
            "conduit",
            "user 10 has not granted channel:bot",
        ),
        (
            "channel.chat.message",
            "1",
            {"broadcaster_user_id": "30", "user_id": "30"},
            "conduit",
            None,
        ),
        (
            "channel.chat.message",
            "1",
            {"broadcaster_user_id": "99", "user_id": "30"},
            "conduit",
            None,
        ),
        ("stream.online", "1", {"broadcaster_user_id": "40"}, "websocket", "token of user 40"),
    ],
)
def test_scope_problem(
    type_: str, version: str, condition: dict[str, str], transport: str, problem: str | None
) -> None:
    found = lookup(type_, version).scope_problem(condition, transport, GRANTS.get)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


# -- against Redis, a database and a Celery broker ----------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
def sessions(request: pytest.FixtureRequest) -> Iterator[sessionmaker[Session]]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    upgrade(url)
    engine = make_engine(url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def celery_queue(keys: Keys, redis_client: redis.Redis) -> Iterator[str]:
    """A queue of this test's own (under the test's prefix, so the fixture deletes it)."""
    queue = f"{keys.prefix}:celery"
    yield queue
    for binding in redis_client.scan_iter(match="_kombu.binding.*"):
        for member in redis_client.smembers(binding):
            if queue in member:
                redis_client.srem(binding, member)


def queued_tasks(redis_client: redis.Redis, queue: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for raw in reversed(redis_client.lrange(queue, 0, -1)):  # LPUSHed: oldest last
        message = orjson.loads(raw)
        body = orjson.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], body[1]))
    return found


@pytest.fixture
def worker(
    redis_client: redis.Redis,
    keys: Keys,
    sessions: sessionmaker[Session],
    celery_queue: str,
    redis_url: str,
) -> Iterator[ControlWorker]:
    app = Celery("test-control", broker=redis_url)
    control = ControlWorker(
        redis_client,
        keys,
        sessions,
        app,
        queue=celery_queue,
        transport="conduit",
        block_ms=50,
        consumer="test-control",
    )
    control.ensure_group()
    yield control
    app.close()


def grant(sessions: sessionmaker[Session], user_id: str, *scopes: str) -> None:
    cipher = TokenCipher([Fernet.generate_key()])
    with sessions.begin() as session:
        save_token(
            session,
            cipher,
            kind="user",
            user_id=user_id,
            scopes=scopes,
            access_token="not-a-real-token",
        )


def send(redis_client: redis.Redis, keys: Keys, request: dict[str, str]) -> None:
    redis_client.xadd(keys.control_requests(), fields_arg(request))


def answer(redis_client: redis.Redis, keys: Keys, request_id: str) -> dict[str, Any]:
    raw = redis_client.lpop(keys.control_reply(request_id))
    assert isinstance(raw, str), "no reply"
    return dict(orjson.loads(raw))


def test_subscribe_is_recorded_answered_and_sent_to_celery(
    worker: ControlWorker,
    redis_client: redis.Redis,
    keys: Keys,
    sessions: sessionmaker[Session],
    celery_queue: str,
) -> None:
    send(redis_client, keys, fields())
    assert worker.run_once() == 1
    assert 0 < redis_client.ttl(keys.control_reply("r1")) <= 60  # replies expire
    assert answer(redis_client, keys, "r1") == {"ok": True, "error": None}
    with sessions() as session:
        [row] = store.list_desired(session, "10")
        assert (row.type, row.version, row.transport, row.requested_by, row.state) == (
            "stream.online",
            "1",
            "conduit",
            "b",
            "pending",
        )
        assert orjson.loads(row.condition) == {"broadcaster_user_id": "10"}
    [(task, kwargs)] = queued_tasks(redis_client, celery_queue)
    assert task == "kiss.subscribe"
    assert kwargs == {"desired_id": row.id, "channel_id": "10"}
    assert redis_client.xpending(keys.control_requests(), "control")["pending"] == 0


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"type": "stream.onlin"}, "unknown subscription type 'stream.onlin'"),
        ({"condition": '{"broadcaster_user_id": "10", "x": "1"}'}, "unknown condition field(s) x"),
        ({"type": "channel.cheer"}, "user 10 has not granted bits:read (has: user:read:chat)"),
        ({"type": "channel.follow", "version": "1"}, "version 1 was removed by Twitch"),
        ({"op": "sing"}, "unknown op 'sing'"),
    ],
)
def test_bad_requests_are_refused_with_the_reason_and_not_recorded(
    worker: ControlWorker,
    redis_client: redis.Redis,
    keys: Keys,
    sessions: sessionmaker[Session],
    celery_queue: str,
    change: dict[str, str],
    problem: str,
) -> None:
    grant(sessions, "10", "user:read:chat")
    send(redis_client, keys, fields(**change))
    worker.run_once()
    reply = answer(redis_client, keys, "r1")
    assert reply["ok"] is False and problem in reply["error"]
    with sessions() as session:
        assert store.list_desired(session) == []
    assert queued_tasks(redis_client, celery_queue) == []


def test_a_granted_scope_lets_the_request_through(
    worker: ControlWorker,
    redis_client: redis.Redis,
    keys: Keys,
    sessions: sessionmaker[Session],
) -> None:
    grant(sessions, "10", "bits:read")
    send(redis_client, keys, fields(type="channel.cheer"))
    worker.run_once()
    assert answer(redis_client, keys, "r1")["ok"] is True


def test_unsubscribe_and_hello(
    worker: ControlWorker,
    redis_client: redis.Redis,
    keys: Keys,
    sessions: sessionmaker[Session],
    celery_queue: str,
) -> None:
    send(redis_client, keys, fields(op="hello", request_id="h", type="", condition=""))
    send(redis_client, keys, fields())
    send(redis_client, keys, fields(op="unsubscribe", request_id="u"))
    assert worker.run_once() == 3
    assert [answer(redis_client, keys, r)["ok"] for r in ("h", "r1", "u")] == [True] * 3
    with sessions() as session:
        assert store.list_desired(session) == []
        assert store.ensure_channel(session, "10").login == "ten"
    assert [task for task, _ in queued_tasks(redis_client, celery_queue)] == [
        "kiss.subscribe",
        "kiss.unsubscribe",
    ]
    _, unsubscribe = queued_tasks(redis_client, celery_queue)[1]
    assert unsubscribe == {
        "channel_id": "10",
        "type": "stream.online",
        "version": "1",
        "condition": {"broadcaster_user_id": "10"},
    }


def test_requests_held_by_a_dead_control_worker_are_taken_over(
    worker: ControlWorker,
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    send(redis_client, keys, fields())
    redis_client.xreadgroup("control", "dead-one", {keys.control_requests(): ">"})
    worker.min_idle_ms = 0
    assert worker.run_once() == 1
    assert answer(redis_client, keys, "r1")["ok"] is True


async def test_a_bot_subscribes_through_the_control_worker(
    worker: ControlWorker,
    redis_url: str,
    redis_client: redis.Redis,
    keys: Keys,
    sessions: sessionmaker[Session],
) -> None:
    grant(sessions, "10", "user:read:chat")
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    client = HubEventSubClient("10", "ten", redis_url, keys=keys, options=FAST, bot="b")
    try:
        pending = await client.subscribe("stream.online")
        with pytest.raises(SubscriptionRejected, match="has not granted bits:read"):
            await client.subscribe("channel.cheer")
        # The reconciler's outcome (stood in for here) is what the bot awaits.
        waiter = asyncio.create_task(pending.outcome(wait_seconds=5))
        redis_client.xadd(
            keys.subscription_outcomes("10"),
            {
                "type": "stream.online",
                "version": "1",
                "status": "active",
                "reason": "",
                "subscription_id": "s-1",
            },
        )
        outcome = await waiter
        assert outcome.active and outcome.subscription_id == "s-1"
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 10)
        await client.connection.close()


def live_subscription(sessions: sessionmaker[Session], transport: str = "conduit") -> None:
    """What the reconciler leaves after placing stream.online of channel 10: an active row."""
    with sessions.begin() as session:
        row = store.add_desired(
            session,
            channel_id="10",
            type="stream.online",
            version="1",
            condition={"broadcaster_user_id": "10"},
            transport="conduit",
            requested_by="b",
        )
        row.state, row.subscription_id = "active", "s-live"
        store.upsert_active(
            session,
            store.TwitchSubscription(
                id="s-live",
                type="stream.online",
                version="1",
                condition={"broadcaster_user_id": "10"},
                status="enabled",
                cost=1,
                method=transport,
                session_id=None,
                conduit_id="c-1",
                created_at=None,
            ),
        )


async def test_subscribing_again_to_a_live_subscription_answers_at_once(
    worker: ControlWorker,
    redis_url: str,
    sessions: sessionmaker[Session],
    keys: Keys,
) -> None:
    """Every bot restart asks again; no reconcile has anything to do, yet the bot hears."""
    live_subscription(sessions)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    client = HubEventSubClient("10", "ten", redis_url, keys=keys, options=FAST, bot="b")
    try:
        pending = await client.subscribe("stream.online")
        outcome = await pending.outcome(wait_seconds=5)
        assert outcome.active and outcome.subscription_id == "s-live"
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 10)
        await client.connection.close()


def test_a_new_or_stale_subscription_waits_for_the_reconciler(
    worker: ControlWorker, redis_client: redis.Redis, keys: Keys, sessions: sessionmaker[Session]
) -> None:
    live_subscription(sessions, transport="websocket")  # not on the hub's transport any more
    send(redis_client, keys, fields())
    worker.run_once()
    assert answer(redis_client, keys, "r1")["ok"] is True
    assert redis_client.xlen(keys.subscription_outcomes("10")) == 0
