"""HubConnection: survives a Redis restart (its own redis-server) and a lost group."""

from __future__ import annotations

import asyncio

import pytest
import redis

from kiss.client import HubConnection, HubEventSubClient, Notification
from kiss.keys import Keys
from tests.client.conftest import FAST, add_entries, entry
from tests.redis_server import PrivateRedis
from tests.waiting import wait_for_async as wait_for


async def test_a_redis_restart_keeps_the_bots_place(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    keys = Keys(prefix="restart")
    direct = redis.Redis.from_url(private_redis.url, decode_responses=True)
    client = HubEventSubClient("7", "seven", private_redis.url, keys=keys, options=FAST, bot="b")
    seen: list[int] = []

    @client.on("stream.online")
    async def record(event: Notification) -> None:
        seen.append(event.event["n"])

    await client.start()
    try:
        add_entries(direct, keys, "7", 3)
        await wait_for(lambda: seen == [0, 1, 2], what="before the restart")
        await wait_for(
            lambda: direct.xpending(keys.channel_stream("7"), keys.bot_group("b"))["pending"] == 0,
            what="acked before the restart",
        )
        private_redis.stop()  # closes the bot's blocked read: it must reconnect
        private_redis.start()
        stream = keys.channel_stream("7")
        for n in range(3, 6):
            direct.xadd(stream, entry("7", event={"n": n}))
        await wait_for(lambda: seen == [0, 1, 2, 3, 4, 5], what="after the restart, no replays")
        assert "Redis unavailable" in caplog.text  # it did go through the reconnect
    finally:
        await client.stop()
        direct.close()


async def test_a_lost_group_is_created_again(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    connection = HubConnection(redis_url, keys=keys, options=FAST)
    client = HubEventSubClient("9", "nine", keys=keys, connection=connection, bot="b")
    seen: list[int] = []
    client.on("stream.online")(lambda e: seen.append(e.event["n"]))
    await client.start()
    try:
        add_entries(redis_client, keys, "9", 1)
        await wait_for(lambda: seen == [0], what="first entry")
        redis_client.delete(keys.channel_stream("9"))  # as after a Redis restart without data
        await wait_for(
            lambda: bool(redis_client.exists(keys.channel_stream("9"))), what="group recreated"
        )
        add_entries(redis_client, keys, "9", 2)
        await wait_for(lambda: seen == [0, 0, 1], what="entries after the loss")
    finally:
        await client.stop()
        await connection.close()


async def test_a_bot_started_before_redis_waits_for_it(private_redis: PrivateRedis) -> None:
    keys = Keys(prefix="early")
    private_redis.stop()
    client = HubEventSubClient("8", "eight", private_redis.url, keys=keys, options=FAST, bot="b")
    seen: list[int] = []
    client.on("stream.online")(lambda e: seen.append(e.event["n"]))
    starting = asyncio.create_task(client.start())
    await asyncio.sleep(0.2)  # a few failed attempts; there is no condition to wait on
    assert not starting.done()
    private_redis.start()
    await asyncio.wait_for(starting, 10)
    direct = redis.Redis.from_url(private_redis.url, decode_responses=True)
    try:
        direct.xadd(keys.channel_stream("8"), entry("8", event={"n": 1}))
        await wait_for(lambda: seen == [1], what="an event once Redis is up")
    finally:
        await client.stop()
        direct.close()
