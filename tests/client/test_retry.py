"""RedisRetry: transient failures wait and log, others are raised, success resets."""

from __future__ import annotations

from dataclasses import replace

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from kiss.client.retry import RedisRetry, until_done
from tests.client.conftest import FAST


async def test_transient_errors_wait_and_others_are_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    retry = RedisRetry(replace(FAST, backoff_base=0.001, backoff_max=0.002), "reading bot:x")
    await retry.failed(RedisConnectionError("refused"))
    assert "Redis unavailable (refused); reading bot:x again in" in caplog.text
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await retry.failed(ResponseError("WRONGTYPE"))
    with pytest.raises(ConnectionRefusedError):  # the builtin is not redis-py's: not retried
        await retry.failed(ConnectionRefusedError())


async def test_until_done_returns_once_the_operation_succeeds() -> None:
    attempts: list[int] = []

    async def flaky() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise RedisConnectionError("down")
        return "done"

    options = replace(FAST, backoff_base=0.001, backoff_max=0.002)
    assert await until_done(flaky, options, "joining") == "done"
    assert len(attempts) == 3
