"""Only one reconciliation at a time across all workers: a Redis lock with an expiry.

Requests never get lost: a caller first sets the *requested* flag, then tries the lock; the
holder keeps running while the flag is set, and checks it once more after releasing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

import redis

from kiss.keys import Keys

T = TypeVar("T")

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class ReconcileLock:
    def __init__(self, client: redis.Redis, keys: Keys, *, ttl_seconds: float = 120.0) -> None:
        self._redis = client
        self._key = keys.reconcile_lock()
        self._flag = keys.reconcile_requested()
        self._ttl_ms = int(ttl_seconds * 1000)
        self._token = uuid.uuid4().hex
        self._release = client.register_script(_RELEASE)
        self._extend = client.register_script(_EXTEND)

    def request(self) -> None:
        self._redis.set(self._flag, "1")

    def acquire(self) -> bool:
        return bool(self._redis.set(self._key, self._token, nx=True, px=self._ttl_ms))

    def extend(self) -> bool:
        """Keep the lock while a long run goes on; False if it expired and someone took it."""
        return bool(self._extend(keys=[self._key], args=[self._token, self._ttl_ms]))

    def release(self) -> None:
        self._release(keys=[self._key], args=[self._token])

    def take_request(self) -> bool:
        return bool(self._redis.getdel(self._flag))

    def run_requested(self, work: Callable[[], T]) -> list[T]:
        """Run ``work`` while requests are pending and the lock is ours; [] if another holds it."""
        self.request()
        results: list[T] = []
        while self.acquire():
            try:
                while self.take_request():
                    results.append(work())
            finally:
                self.release()
            if not self._redis.exists(self._flag):
                break
        return results
