"""Time in tests: waiting for a condition instead of sleeping for a guessed time, and the
time units that scale Twitch's timers.

The one poll loop of the suite: ``wait_for`` in threads and plain tests, ``wait_for_async``
inside an event loop (its condition may be a coroutine function).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

T = TypeVar("T")

# Real seconds per Twitch second (the simulator's and the session machine's time_unit): Twitch's
# 10 s welcome window and 30 s keepalive become 0.2 s and 0.6 s in one process...
TIME_UNIT = 0.02
# ...and 0.5 s and 1.5 s where separate processes (simulator, listener, Celery) must meet them
# on a loaded CI machine.
PROCESS_TIME_UNIT = 0.05


class NotWithin(AssertionError, TimeoutError):
    """A condition did not hold in time: a test failure, and a timeout for the fault drivers
    that record it as a figure (``except TimeoutError``)."""


def wait_for(
    condition: Callable[[], T | Literal[False] | None],
    within: float = 30.0,
    what: str = "",
    interval: float = 0.02,
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that.

    Raises NotWithin (an AssertionError and a TimeoutError) naming ``what`` once ``within``
    seconds have passed. ``interval``: longer for probes that start a process.
    """
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise NotWithin(f"not within {within} s: {what or condition}")
        time.sleep(interval)


async def wait_for_async(
    condition: Callable[[], Any],
    within: float = 10.0,
    what: str = "",
    describe: Callable[[], str] | None = None,
) -> Any:
    """``wait_for`` without blocking the loop: ``condition`` may return an awaitable; the
    truthy value is returned. ``describe()`` adds the state to a failure."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            state = f"; {describe()}" if describe else ""
            raise NotWithin(f"not within {within} s: {what or condition}{state}")
        await asyncio.sleep(0.01)
