"""Reconnecting: a delay policy (exponential with jitter, reset after a welcome) and an iterator
of connections that applies it, with an injected rule saying which errors are fatal.

    async for socket in reconnecting(connect, backoff, is_fatal):
        ...  # use it until it is lost; the next iteration waits, then dials again
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

from websockets.exceptions import InvalidURI, WebSocketException

from kiss.backoff import backoff
from kiss.errors import is_retryable

log = logging.getLogger(__name__)

T = TypeVar("T")


class Backoff:
    """Reconnect delays from ``kiss.backoff`` with half jitter (each in [ceiling/2, ceiling]),
    started over by ``reset`` once a session is welcomed."""

    def __init__(
        self, base: float, maximum: float, *, rng: Callable[[], float] = random.random
    ) -> None:
        self.base = base
        self.maximum = maximum
        self._rng = rng
        self.attempt = 0
        self._delays = self._fresh()

    def _fresh(self) -> Iterator[float]:
        return backoff(self.base, self.maximum, min_share=0.5, rng=self._rng)

    def next_delay(self) -> float:
        self.attempt += 1
        return next(self._delays)

    def reset(self) -> None:
        """A session was welcomed: the next loss starts from the base delay again."""
        self.attempt = 0
        self._delays = self._fresh()


def is_fatal(error: BaseException) -> bool:
    """Errors that retrying cannot fix: what ``kiss.errors.is_retryable`` refuses, except a
    handshake the websocket peer got wrong, which a later dial may get right (a malformed URL
    will not)."""
    if isinstance(error, WebSocketException) and not isinstance(error, InvalidURI):
        return False
    return not is_retryable(error)


async def reconnecting(
    connect: Callable[[], Awaitable[T]],
    backoff: Backoff,
    fatal: Callable[[BaseException], bool] = is_fatal,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    stopped: Callable[[], bool] = lambda: False,
) -> AsyncIterator[T]:
    """Yield a fresh connection each time the previous one is done, waiting between attempts,
    until ``stopped()`` says to give up."""
    first = True
    while not stopped():
        if not first:
            delay = backoff.next_delay()
            log.info("reconnecting in %.2f s", delay)
            await sleep(delay)
            if stopped():
                return
        first = False
        try:
            connection = await connect()
        except Exception as error:
            if fatal(error):
                raise
            log.warning("connect failed: %s: %s", type(error).__name__, error)
            continue
        yield connection
