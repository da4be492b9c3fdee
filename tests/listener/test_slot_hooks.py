"""What a slot does on welcome and loss: real Redis, real Celery queue, and for the shard
binding a Helix stand-in that fails, to see the retries and the restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
import redis
import redis.asyncio as aioredis

from kiss.errors import TransientHelixError
from kiss.eventsub.session import SessionConfig, SessionMachine, Welcomed
from kiss.helix.conduits import ShardError, ShardUpdate
from kiss.keys import Keys
from kiss.listener.backoff import Backoff
from kiss.listener.control_plane import ControlPlane, celery_sender
from kiss.listener.runner import SessionRunner
from kiss.listener.slot_hooks import ConduitShardHooks, WebsocketSessionHooks
from kiss.listener.writer import StreamWriter
from tests.listener.test_control_plane import queued


@pytest.fixture
async def aredis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


def idle_runner(aredis: aioredis.Redis, keys: Keys, hooks: object) -> SessionRunner:
    machine = SessionMachine(SessionConfig())
    writer = StreamWriter(aredis, keys, "L1")
    return SessionRunner("s", "ws://127.0.0.1:9/ws", machine, writer, keys, hooks, Backoff(1, 2))  # type: ignore[arg-type]


async def test_websocket_session_is_listed_and_the_reconciler_asked(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys, redis_url: str
) -> None:
    queue = f"q-{keys.prefix}"
    hooks = WebsocketSessionHooks(
        aredis, keys, "L1", "42", ControlPlane(celery_sender(redis_url), queue)
    )
    runner = idle_runner(aredis, keys, hooks)
    try:
        await hooks.welcomed(runner, Welcomed("S1", 10, True, False, None), None)
        record = orjson.loads(redis_client.hget(keys.ws_sessions(), "S1") or "{}")
        assert record["user_id"] == "42" and record["listener"] == "L1"
        # A handover that changed the id moves the entry; nothing is recreated.
        await hooks.welcomed(runner, Welcomed("S2", 10, False, True, None), "S1")
        assert set(redis_client.hkeys(keys.ws_sessions())) == {"S2"}
        await hooks.lost(runner, "S2", "4006 network error")
        assert redis_client.hlen(keys.ws_sessions()) == 0
        assert queued(redis_client, queue) == [
            ("kiss.session_welcomed", {"session_id": "S1", "user_id": "42"})
        ]
    finally:
        redis_client.delete(queue)


async def test_shard_binding_is_retried_then_the_session_restarted(
    aredis: aioredis.Redis, keys: Keys
) -> None:
    calls: list[tuple[str, str]] = []

    async def bind(shard_id: str, session_id: str) -> ShardUpdate:
        calls.append((shard_id, session_id))
        if len(calls) == 1:
            raise TransientHelixError(503, "unavailable")
        return ShardUpdate((), (ShardError("3", "The websocket session is not connected", "x"),))

    hooks = ConduitShardHooks("C", "3", bind, attempts=3, retry_delay=0.01)
    runner = idle_runner(aredis, keys, hooks)
    runner._session_id = "S1"  # as after the welcome
    restarted: list[str] = []
    runner.restart = restarted.append  # type: ignore[method-assign,assignment]
    await hooks.welcomed(runner, Welcomed("S1", 10, True, False, None), None)
    assert calls == [("3", "S1")] * 3
    assert restarted and "not connected" in restarted[0]
    assert hooks.bound_session is None


async def test_shard_binding_skipped_on_a_handover_that_keeps_the_session(
    aredis: aioredis.Redis, keys: Keys
) -> None:
    calls: list[str] = []

    async def bind(shard_id: str, session_id: str) -> ShardUpdate:
        calls.append(session_id)
        return ShardUpdate((shard_id,), ())

    hooks = ConduitShardHooks("C", "0", bind)
    runner = idle_runner(aredis, keys, hooks)
    await hooks.welcomed(runner, Welcomed("S1", 10, False, False, None), "S1")
    assert calls == []
    await hooks.welcomed(runner, Welcomed("S2", 10, False, True, None), "S1")
    assert calls == ["S2"] and hooks.bound_session == "S2"
    await asyncio.sleep(0)
