"""Stopping background tasks for certain, even when a library swallows the cancellation.

redis-py's asyncio client can lose a ``CancelledError`` that lands mid-command (the
connection's timeout and pool logic catch it: redis/redis-py#2028, #2551); a loop around
such a call then goes on forever and whoever awaits it hangs. So the cancel is repeated
until every task has ended.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], repeat_every: float = 1.0) -> None:
    """Cancel ``tasks`` and wait until all have ended, cancelling again the ones that go on."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=repeat_every)
