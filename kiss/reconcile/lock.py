"""Only one reconciliation at a time across all workers: a fenced Redis lock (kiss.locks).

Requests never get lost: a caller first sets the *requested* flag (and the *resync* flag when
it wants Twitch re-read), then tries the lock; the holder keeps running while the flag is
set, and checks it once more after releasing. A caller that finds the lock held may wait for
it (bounded): a dead worker's lock expires within its ttl, a live holder takes the request
itself. The lock is renewed on a timer; a run whose renewal failed stops (``LockLost``), and
its holder takes no further request.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from typing import TypeVar

import redis

from kiss.keys import Keys
from kiss.locks import FencedLock, Holder, Lease

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_TTL_SECONDS = 30.0
POLL_SECONDS = 0.25


def default_holder() -> str:
    """This process, as the lock's value names it (for the operator's log lines)."""
    return f"{socket.gethostname()} pid {os.getpid()}"


class ReconcileLock:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        holder: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._redis = client
        self._flag = keys.reconcile_requested()
        self._resync_flag = keys.reconcile_resync_requested()
        self._sleep = sleep
        self.lock = FencedLock(
            client,
            keys.reconcile_lock(),
            keys.reconcile_fence(),
            ttl_seconds=ttl_seconds,
            holder=holder or default_holder(),
            what="the reconcile lock",
        )

    @property
    def ttl_seconds(self) -> float:
        return self.lock.ttl_seconds

    def request(self, *, resync: bool = False) -> None:
        pipe = self._redis.pipeline(transaction=True)
        if resync:
            pipe.set(self._resync_flag, "1")
        pipe.set(self._flag, "1")
        pipe.execute()

    def acquire(self) -> Lease | None:
        return self.lock.acquire()

    def holder(self) -> Holder | None:
        return self.lock.holder()

    def take_request(self) -> bool:
        return bool(self._redis.getdel(self._flag))

    def take_resync(self) -> bool:
        return bool(self._redis.getdel(self._resync_flag))

    def run_requested(
        self,
        work: Callable[[Lease, bool], T],
        *,
        resync: bool = False,
        wait_seconds: float = 0.0,
        why: str = "reconcile",
    ) -> list[T]:
        """Run ``work(lease, resync)`` while requests are pending and the lock is ours.

        [] when another process holds the lock and took (or will take) the request: at once
        with ``wait_seconds`` 0, else after waiting that long at most for the lock.
        """
        self.request(resync=resync)
        deadline = time.monotonic() + wait_seconds
        results: list[T] = []
        waited = False
        while True:
            lease = self.acquire()
            if lease is None:
                if not self._redis.exists(self._flag):
                    if waited:
                        log.info("%s: the reconcile lock's holder took the request", why)
                    return results
                if time.monotonic() >= deadline:
                    if waited:
                        holder = self.holder()
                        log.info(
                            "%s: the reconcile lock is still held by %s after %.0f s; "
                            "its holder runs the request when its current run ends",
                            why,
                            holder.describe() if holder else "another worker",
                            wait_seconds,
                        )
                    return results
                if not waited:
                    holder = self.holder()
                    log.info(
                        "%s: waiting up to %.0f s for the reconcile lock, held by %s",
                        why,
                        wait_seconds,
                        holder.describe() if holder else "another worker",
                    )
                    waited = True
                self._sleep(POLL_SECONDS)
                continue
            with lease:
                while lease.held and self.take_request():
                    results.append(work(lease, self.take_resync()))
            if not lease.held or not self._redis.exists(self._flag):
                return results
