"""Acker: batched XACKs; kept while Redis is unreachable."""

from __future__ import annotations

import pytest
import redis
import redis.asyncio as aioredis

from kiss.client.ack import Acker
from kiss.client.connection import connect_redis
from kiss.client.rows import entries
from kiss.keys import Keys
from tests.client.conftest import FAST, add_entries
from tests.redis_server import free_port


async def test_flush_acknowledges_every_buffered_entry(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    streams = [keys.channel_stream("1"), keys.channel_stream("2")]
    for n, stream in enumerate(streams, 1):
        redis_client.xgroup_create(stream, "g", id="0", mkstream=True)
        add_entries(redis_client, keys, str(n), 3)
        redis_client.xreadgroup("g", "c", {stream: ">"})
    acker = Acker(aredis, FAST)
    for stream in streams:
        for stream_id, _ in entries(redis_client.xrange(stream)):
            acker.ack(stream, "g", stream_id)
    assert acker.buffered == 6
    await acker.flush()
    assert acker.buffered == 0 and acker.acked == 6
    assert [redis_client.xpending(s, "g")["pending"] for s in streams] == [0, 0]


async def test_acks_stay_buffered_when_redis_is_unreachable() -> None:
    dead = connect_redis(f"redis://127.0.0.1:{free_port()}/0", FAST)
    acker = Acker(dead, FAST)
    acker.ack("s", "g", "1-0")
    with pytest.raises(redis.exceptions.ConnectionError):
        await acker.flush()
    assert acker.buffered == 1
    await dead.aclose()
