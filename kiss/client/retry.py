"""The client's one retry rule for Redis: transient failures wait a jittered, growing delay.

Every loop of the client that talks to Redis (the readers, the acknowledger, joining a
stream) retries through ``RedisRetry``; anything not transient is raised to the caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

from kiss.backoff import backoff
from kiss.client.options import ClientOptions
from kiss.client.redis_errors import is_transient

log = logging.getLogger(__name__)

T = TypeVar("T")


class RedisRetry:
    """The delays of one loop: they grow while Redis fails and start again after a success."""

    def __init__(self, options: ClientOptions, doing: str) -> None:
        self.options = options
        self.doing = doing  # what is retried, for the log line: "reading bot:x"
        self._delays: Iterator[float] | None = None

    def succeeded(self) -> None:
        self._delays = None

    async def failed(self, error: Exception) -> None:
        """Wait before the next attempt if ``error`` is transient; raise it otherwise."""
        if not is_transient(error):
            raise error
        if self._delays is None:
            self._delays = backoff(self.options.backoff_base, self.options.backoff_max)
        delay = next(self._delays)
        log.warning("Redis unavailable (%s); %s again in %.2fs", error, self.doing, delay)
        await asyncio.sleep(delay)


async def until_done(
    operation: Callable[[], Awaitable[T]], options: ClientOptions, doing: str
) -> T:
    """Run ``operation`` until it succeeds, retrying transient failures."""
    retry = RedisRetry(options, doing)
    while True:
        try:
            return await operation()
        except Exception as error:
            await retry.failed(error)
