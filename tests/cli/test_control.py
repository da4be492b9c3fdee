"""`kiss control` as a process: answers a bot's request, beats, stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import redis
import redis.asyncio as aioredis

from kiss.client.requests import new_request_id, request_fields, send_request
from kiss.keys import Keys
from kiss.store.db import upgrade
from tests.waiting import wait_for_async as wait_for


async def test_kiss_control_serves_requests_until_sigterm(
    redis_url: str, redis_client: redis.Redis, keys: Keys, sqlite_url: str, tmp_path: Path
) -> None:
    upgrade(sqlite_url)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KISSBOT_")},
        "KISSBOT_REDIS_URL": redis_url,
        "KISSBOT_KEY_PREFIX": keys.prefix,
        "KISSBOT_DATABASE_URL": sqlite_url,
        "KISSBOT_CELERY_QUEUE": f"{keys.prefix}:celery",  # under the prefix: cleaned up
    }
    log_path = tmp_path / "control.log"
    with log_path.open("w") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kiss", "control", "--block-ms", "100",
            env=env, stderr=log_file,
        )  # fmt: skip
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        await wait_for(
            lambda: any(redis_client.scan_iter(match=keys.heartbeat("control:*"))),
            within=30,
            what="the control heartbeat",
        )
        fields = request_fields(
            new_request_id(),
            "subscribe",
            bot="b",
            channel_id="31",
            channel_name="thirty-one",
            type="stream.online",
            version="1",
            condition={"broadcaster_user_id": "31"},
            now=0.0,
        )
        await send_request(client, keys, fields, wait_seconds=20)
        assert redis_client.llen(f"{keys.prefix}:celery") == 1  # kiss.subscribe queued
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), 30)
        await client.aclose()
    assert code == 0, log_path.read_text()
    assert "stopped after 1 requests" in log_path.read_text()
