"""Forgetting consumers that hold nothing (and never one that holds entries)."""

from __future__ import annotations

import redis
import redis.asyncio as aioredis

from kiss.client.consumers import forget, stale_consumers, sweep
from kiss.client.inbox import Inbox
from kiss.client.rows import streams
from kiss.keys import Keys
from tests.client.conftest import add_entries


def test_stale_consumers() -> None:
    infos = [
        {"name": "me", "pending": 0, "idle": 10_000},
        {"name": "crashed-idle", "pending": 0, "idle": 10_000},
        {"name": "crashed-recent", "pending": 0, "idle": 10},
        {"name": "holding", "pending": 2, "idle": 10_000},
    ]
    assert stale_consumers(infos, "me", idle_ms=1_000) == ["crashed-idle"]


async def test_sweep_forgets_only_consumers_that_hold_nothing(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    stream, group = keys.channel_stream("1"), "bot:x"
    redis_client.xgroup_create(stream, group, id="0", mkstream=True)
    add_entries(redis_client, keys, "1", 2)
    redis_client.xreadgroup(group, "holding", {stream: ">"}, count=1)
    [(_, [(done, _)])] = streams(redis_client.xreadgroup(group, "finished", {stream: ">"}, count=1))
    redis_client.xack(stream, group, done)
    inbox = Inbox(stream, group, "dl", capacity=10, consumer="me")
    assert await sweep(aredis, [inbox], idle_ms=0) == 1
    names = [c["name"] for c in redis_client.xinfo_consumers(stream, group)]
    assert names == ["holding"]
    assert not await forget(aredis, stream, group, "holding")
    assert redis_client.xpending(stream, group)["pending"] == 1
