"""Helpers of the bot-client tests: stream entries in exactly the listener's format."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
import redis
import redis.asyncio as aioredis

from kiss.client.options import ClientOptions
from kiss.keys import Keys
from tests.waiting import wait_for_async as wait_for  # noqa: F401  (the suites' import)

# Test timing: short idle and intervals, so reclaim and presence show within a second.
FAST = ClientOptions(
    block_ms=100,
    min_idle_ms=150,
    reclaim_interval=0.1,
    presence_interval=0.1,
    presence_ttl=5.0,
    max_deliveries=3,
    backoff_base=0.02,
    backoff_max=0.2,
    instance="test",
)


def entry(
    channel_id: str,
    *,
    kind: str = "notification",
    type_: str = "stream.online",
    event: Any = None,
    message_id: str | None = None,
    version: str = "1",
) -> dict[Any, Any]:
    """The fields the listener writes for one message (docs/architecture.md)."""
    now = time.time()
    return {
        "kind": kind,
        "message_id": message_id or uuid.uuid4().hex,
        "type": type_,
        "version": version,
        "channel_id": channel_id,
        "subscription_id": "sub-" + channel_id,
        "twitch_ts": "2026-11-26T01:02:03.123456789Z",
        "received_ts": f"{now:.6f}",
        "event": orjson.dumps(
            event if event is not None else {"broadcaster_user_id": channel_id}
        ).decode(),
    }


def add_entries(
    client: redis.Redis, keys: Keys, channel_id: str, count: int, **kwargs: Any
) -> list[str]:
    """Append ``count`` notifications numbered in their event's ``n``; their stream ids."""
    stream = keys.channel_stream(channel_id)
    pipe = client.pipeline(transaction=False)
    for n in range(count):
        pipe.xadd(stream, entry(channel_id, event={"n": n}, **kwargs))
    return [str(stream_id) for stream_id in pipe.execute()]


@pytest.fixture
async def aredis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()
