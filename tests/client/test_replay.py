"""Replay (read again, no group) and rewind (the group delivers again)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis
import redis.asyncio as aioredis

from kiss.client.replay import replay, rewind, start_id
from kiss.client.rows import streams
from kiss.keys import Keys
from tests.client.conftest import add_entries


def test_start_id_from_ids_and_times() -> None:
    assert start_id("1700000000000-3") == "1700000000000-3"
    assert start_id("0") == "0"
    assert start_id(1700000000.5) == "1700000000500-0"
    assert start_id(datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)) == "1700000000000-0"
    with pytest.raises(ValueError, match="not a stream id"):
        start_id("yesterday")
    with pytest.raises(ValueError, match="before the epoch"):
        start_id(-1.0)


async def test_replay_from_a_position_pages_in_order(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    ids = add_entries(redis_client, keys, "1", 7)
    stream = keys.channel_stream("1")
    got = [e.event["n"] async for e in replay(aredis, stream, ids[2], batch=2)]
    assert got == [2, 3, 4, 5, 6]
    bounded = [e.event["n"] async for e in replay(aredis, stream, ids[1], end=ids[3])]
    assert bounded == [1, 2, 3]


async def test_replay_from_a_time(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    stream = keys.channel_stream("1")
    redis_client.xadd(stream, {"kind": "notification", "event": '{"n": "old"}'}, id="1000-0")
    redis_client.xadd(stream, {"kind": "notification", "event": '{"n": "new"}'}, id="5000-0")
    assert [e.event["n"] async for e in replay(aredis, stream, 4.0)] == ["new"]
    assert [e.event["n"] async for e in replay(aredis, stream, 0.5)] == ["old", "new"]


async def test_rewind_makes_the_group_deliver_again(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    ids = add_entries(redis_client, keys, "1", 4)
    stream = keys.channel_stream("1")
    redis_client.xgroup_create(stream, "g", id="$")
    assert await rewind(aredis, stream, "g", ids[2]) == ids[1]
    [(_, read)] = streams(redis_client.xreadgroup("g", "c", {stream: ">"}))
    assert [stream_id for stream_id, _ in read] == ids[2:]
    assert await rewind(aredis, stream, "g", ids[0]) == "0"
    assert await rewind(aredis, stream, "g", 9e12) == "$"
