"""GroupReader and its helpers against a real Redis."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import redis
import redis.asyncio as aioredis

from kiss.client.inbox import Inbox
from kiss.client.reader import GroupReader, ensure_groups
from kiss.client.rows import entries
from kiss.keys import Keys
from tests.client.conftest import FAST, add_entries, entry
from tests.waiting import wait_for_async as wait_for


async def test_ensure_groups_creates_at_zero_and_keeps_an_existing_place(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    stream = keys.channel_stream("1")
    add_entries(redis_client, keys, "1", 2)
    await ensure_groups(aredis, [stream, keys.channel_stream("2")], "bot:x")
    [info] = redis_client.xinfo_groups(stream)
    assert (info["name"], info["last-delivered-id"], info["lag"]) == ("bot:x", "0-0", 2)
    assert redis_client.exists(keys.channel_stream("2"))  # MKSTREAM
    redis_client.xgroup_setid(stream, "bot:x", "$")
    await ensure_groups(aredis, [stream], "bot:x")  # group exists: a normal branch
    assert redis_client.xinfo_groups(stream)[0]["lag"] == 0


async def test_one_read_serves_many_streams_and_skips_full_inboxes(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    options = replace(FAST, count=10)
    reader = GroupReader(aredis, "bot:x", "c", options)
    inboxes = [
        Inbox(keys.channel_stream(str(n)), "bot:x", "dl", capacity=2, consumer="c")
        for n in range(3)
    ]
    await ensure_groups(aredis, [i.stream for i in inboxes], "bot:x")
    for inbox in inboxes:
        reader.add(inbox)
    for n in range(3):
        add_entries(redis_client, keys, str(n), 5)
    task = asyncio.create_task(reader.run())
    try:
        # One read of count 10 fills every inbox past its capacity of 2; then none is read.
        await wait_for(lambda: all(len(i) == 5 for i in inboxes), what="one read per stream")
        add_entries(redis_client, keys, "0", 1)
        await asyncio.sleep(options.block_ms / 1000 * 3)  # a few read cycles: none may read
        assert len(inboxes[0]) == 5
        for _ in range(4):
            await inboxes[0].get()
        await wait_for(lambda: len(inboxes[0]) == 2, what="read again once there is room")
    finally:
        task.cancel()


async def test_a_malformed_entry_goes_to_the_dead_letters(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    stream, dead = keys.channel_stream("1"), keys.bot_dead_letters("1", "x")
    reader = GroupReader(aredis, "bot:x", "c", FAST)
    inbox = Inbox(stream, "bot:x", dead, capacity=10, consumer="c")
    await ensure_groups(aredis, [stream], "bot:x")
    reader.add(inbox)
    bad = redis_client.xadd(stream, {**entry("1"), "kind": "mystery"})
    redis_client.xadd(stream, entry("1"))
    task = asyncio.create_task(reader.run())
    try:
        await wait_for(lambda: len(inbox) == 1, what="the good entry")
        [(_, fields)] = entries(redis_client.xrange(dead))
        assert fields["origin_id"] == bad and "unknown kind 'mystery'" in fields["reason"]
        assert redis_client.xpending(stream, "bot:x")["pending"] == 1  # only the good one
    finally:
        task.cancel()
