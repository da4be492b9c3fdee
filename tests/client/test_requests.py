"""Requests to the control plane and outcomes, with the control side played by the test."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import redis
import redis.asyncio as aioredis

from kiss.client.errors import ControlPlaneTimeout, OutcomeTimeout, SubscriptionRejected
from kiss.client.requests import (
    last_outcome_id,
    request_fields,
    send_request,
    wait_outcome,
)
from kiss.client.rows import entries
from kiss.keys import Keys
from tests.waiting import wait_for_async as wait_for


def fields(op: str = "subscribe") -> dict[str, str]:
    return request_fields(
        "req-1",
        op,
        bot="b",
        channel_id="1",
        channel_name="one",
        type="stream.online",
        version="1",
        condition={"broadcaster_user_id": "1"},
        now=12.5,
    )


def test_request_fields_follow_the_contract() -> None:
    assert fields() == {
        "request_id": "req-1",
        "op": "subscribe",
        "bot": "b",
        "channel_id": "1",
        "channel_name": "one",
        "type": "stream.online",
        "version": "1",
        "condition": '{"broadcaster_user_id":"1"}',
        "ts": "12.500000",
    }


async def answer(redis_client: redis.Redis, keys: Keys, reply: dict[str, object]) -> None:
    reply_key = keys.control_reply("req-1")
    await wait_for(lambda: bool(redis_client.xlen(keys.control_requests())), what="a request")
    redis_client.lpush(reply_key, orjson.dumps(reply))


async def test_an_accepted_request_returns(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    responder = asyncio.create_task(answer(redis_client, keys, {"ok": True, "error": None}))
    await send_request(aredis, keys, fields(), wait_seconds=5)
    await responder
    [(_, sent)] = entries(redis_client.xrange(keys.control_requests()))
    assert sent == fields()


async def test_a_refusal_raises_with_the_reason(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    reason = "channel.follow v2: the token of channel 1 lacks moderator:read:followers"
    responder = asyncio.create_task(answer(redis_client, keys, {"ok": False, "error": reason}))
    with pytest.raises(SubscriptionRejected, match="lacks moderator:read:followers"):
        await send_request(aredis, keys, fields(), wait_seconds=5)
    await responder


async def test_no_answer_is_a_timeout_naming_the_missing_process(
    aredis: aioredis.Redis, keys: Keys
) -> None:
    with pytest.raises(ControlPlaneTimeout, match="kiss control"):
        await send_request(aredis, keys, fields(), wait_seconds=0.2)


async def test_wait_outcome_skips_older_and_other_outcomes(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    outcomes = keys.subscription_outcomes("1")
    redis_client.xadd(outcomes, {"type": "stream.online", "version": "1", "status": "active"})
    after = await last_outcome_id(aredis, keys, "1")
    assert after != "0-0"
    redis_client.xadd(outcomes, {"type": "stream.offline", "version": "1", "status": "active"})
    redis_client.xadd(
        outcomes,
        {
            "type": "stream.online",
            "version": "1",
            "status": "failed",
            "reason": "no scope",
            "subscription_id": "",
        },
    )
    outcome = await wait_outcome(
        aredis,
        keys,
        "1",
        "stream.online",
        "1",
        after_id=after,
        statuses={"active", "failed"},
        wait_seconds=5,
    )
    assert (outcome.status, outcome.reason, outcome.active) == ("failed", "no scope", False)


async def test_wait_outcome_times_out(aredis: aioredis.Redis, keys: Keys) -> None:
    assert await last_outcome_id(aredis, keys, "1") == "0-0"
    with pytest.raises(OutcomeTimeout, match="Celery worker"):
        await wait_outcome(
            aredis,
            keys,
            "1",
            "stream.online",
            "1",
            after_id="0-0",
            statuses={"active"},
            wait_seconds=0.2,
        )
