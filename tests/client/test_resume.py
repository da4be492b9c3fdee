"""resume: a consumer's own pending entries first, in order, then dead consumers' idle ones."""

from __future__ import annotations

from dataclasses import replace

import redis
import redis.asyncio as aioredis

from kiss.client.inbox import Inbox
from kiss.client.resume import resume
from kiss.client.rows import entries
from kiss.keys import Keys
from tests.client.conftest import FAST, add_entries


def inbox_for(keys: Keys, consumer: str = "b@one") -> Inbox:
    stream = keys.channel_stream("1")
    return Inbox(stream, "bot:b", keys.bot_dead_letters("1", "b"), 100, consumer=consumer)


async def test_own_pending_entries_come_back_in_order_before_others(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    inbox = inbox_for(keys)
    redis_client.xgroup_create(inbox.stream, inbox.group, id="0", mkstream=True)
    ids = add_entries(redis_client, keys, "1", 5)
    # The previous life of this consumer read 0-2 and died; another consumer holds 3-4.
    redis_client.xreadgroup(inbox.group, "b@one", {inbox.stream: ">"}, count=3)
    redis_client.xreadgroup(inbox.group, "b@gone", {inbox.stream: ">"}, count=2)
    report = await resume(aredis, inbox, replace(FAST, count=2, min_idle_ms=0))
    assert (report.own, report.claimed, report.dead) == (3, 2, 0)
    got = [await inbox.get() for _ in range(5)]
    assert [e.stream_id for e in got] == ids
    assert [e.delivery_count for e in got] == [2, 2, 2, 2, 2]
    owners = {
        r["consumer"] for r in redis_client.xpending_range(inbox.stream, inbox.group, "-", "+", 10)
    }
    assert owners == {"b@one"}


async def test_only_idle_entries_of_other_consumers_are_claimed(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    inbox = inbox_for(keys)
    redis_client.xgroup_create(inbox.stream, inbox.group, id="0", mkstream=True)
    add_entries(redis_client, keys, "1", 2)
    redis_client.xreadgroup(inbox.group, "b@busy", {inbox.stream: ">"})  # alive, just now
    report = await resume(aredis, inbox, replace(FAST, min_idle_ms=60_000))
    assert (report.own, report.claimed) == (0, 0)
    assert len(inbox) == 0


async def test_past_the_bound_or_deleted_own_entries_are_not_delivered(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    inbox = inbox_for(keys)
    redis_client.xgroup_create(inbox.stream, inbox.group, id="0", mkstream=True)
    poison, deleted, fine = add_entries(redis_client, keys, "1", 3)
    redis_client.xreadgroup(inbox.group, "b@one", {inbox.stream: ">"})
    for _ in range(FAST.max_deliveries - 1):  # delivered max_deliveries times in all
        redis_client.xclaim(inbox.stream, inbox.group, "b@one", 0, [poison])
    redis_client.xdel(inbox.stream, deleted)
    report = await resume(aredis, inbox, FAST)
    assert (report.own, report.dead) == (1, 1)
    assert (await inbox.get()).stream_id == fine
    [(_, dead)] = entries(redis_client.xrange(inbox.dead_letters))
    assert dead["origin_id"] == poison and dead["deliveries"] == str(FAST.max_deliveries)
    pending = redis_client.xpending_range(inbox.stream, inbox.group, "-", "+", 10)
    assert [r["message_id"] for r in pending] == [fine]
