"""Running a bot until SIGTERM or SIGINT (Ctrl-C), whatever Redis does, with no traceback.

    from kiss.client import run

    async def main() -> None:
        client = HubEventSubClient(..., bot="greeter")
        try:
            await client.start()
            await asyncio.Event().wait()
        finally:
            await client.stop()

    run(main())

A signal cancels the main task, so its ``finally`` blocks run (``client.stop()``), also in
the middle of a ``start()`` that waits for an unreachable Redis. A second signal cancels
again at once; a main task still running ``grace`` seconds after the first is cancelled
again every second (redis-py can swallow a cancellation: kiss/cancelling.py).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Coroutine
from typing import Any

from kiss.cancelling import cancel_and_wait

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def run(main: Coroutine[Any, Any, None], *, grace: float = 10.0) -> None:
    """``asyncio.run(main)``, ended by SIGTERM or SIGINT; returns normally after a signal."""
    asyncio.run(until_signal(main, grace))


async def until_signal(main: Coroutine[Any, Any, None], grace: float = 10.0) -> None:
    """Await ``main`` in a task that SIGTERM and SIGINT cancel (for a loop run elsewhere)."""
    task = asyncio.ensure_future(main)
    loop = asyncio.get_running_loop()
    signalled: list[signal.Signals] = []
    insisting: list[asyncio.Task[None]] = []

    def insist() -> None:
        if not task.done():
            log.warning("still stopping after %.0fs; cancelling again", grace)
            insisting.append(asyncio.ensure_future(cancel_and_wait([task])))

    def on_signal(signum: signal.Signals) -> None:
        if signalled:
            log.warning("%s again: stopping now", signum.name)
        else:
            log.info("%s: stopping", signum.name)
            loop.call_later(grace, insist)
        signalled.append(signum)
        task.cancel()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await task
    except asyncio.CancelledError:
        if not signalled or not task.cancelled():
            raise
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
        await cancel_and_wait(insisting)
