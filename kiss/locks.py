"""A Redis lock for work that must run once at a time across processes, with fencing.

    lock = FencedLock(client, key, fence_key, ttl_seconds=30, holder="worker-1 pid 42")
    lease = lock.acquire()          # None: someone else holds it (``lock.holder()`` says who)
    if lease is not None:
        with lease:                 # renewed on a timer thread until the block ends
            ...
            lease.check()           # raises LockLost once a renewal failed

Acquiring is one Lua script: ``SET key value NX PX ttl`` and ``INCR fence_key``, so every
holder gets a fencing token larger than any before it; the value stored is
``<fence>:<random token>:<holder>``. Renewal and release compare the whole value, so a
process only ever extends or deletes its own lock.

Renewal runs on a thread every ``ttl/3``, whatever the work does (a rate-limit wait, a slow
call): the lock lapses only when the process is dead or cannot reach Redis. A renewal that
finds another value (the lock expired and someone took it) loses the lease at once; a Redis
error is retried until the lease's own expiry has passed, then the lease is lost. Either way
the loss is logged once and ``check()`` raises from then on, so the work stops.

``AsyncFencedLock`` is the same lock (same scripts, same value) for asyncio code that holds
it for one short step and renews nothing: the listener's conduit setup.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import redis
import redis.asyncio as aioredis

from kiss.errors import LockLost

log = logging.getLogger(__name__)

# KEYS[1] lock, KEYS[2] fencing counter. ARGV: token:holder, ttl ms. The stored value, or nil.
_ACQUIRE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local value = redis.call('INCR', KEYS[2]) .. ':' .. ARGV[1]
redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
return value
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

MIN_TTL_SECONDS = 0.3  # below this a renewal every ttl/3 cannot keep up with a busy host


@dataclass(frozen=True, slots=True)
class Holder:
    """Who holds a lock now, as its value says."""

    fence: int
    name: str
    expires_in: float  # seconds

    def describe(self) -> str:
        return f"{self.name} (fence {self.fence}, expires in {self.expires_in:.1f} s)"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def parse_value(value: object) -> tuple[int, str] | None:
    """(fence, holder name) of a stored lock value; None when it is not one of ours."""
    fence, _, rest = _text(value).partition(":")
    _, _, name = rest.partition(":")
    return (int(fence), name) if fence.isdigit() else None


def _holder(value: object, ttl_ms: object) -> Holder | None:
    parsed = parse_value(value) if value is not None else None
    if parsed is None:
        return None
    return Holder(parsed[0], parsed[1], max(0, int(str(ttl_ms))) / 1000)


def read_holder(client: redis.Redis, key: str) -> Holder | None:
    """Who holds the lock at ``key`` now (None: nobody, or it just expired)."""
    pipe = client.pipeline(transaction=True)
    pipe.get(key)
    pipe.pttl(key)
    value, ttl_ms = pipe.execute()
    return _holder(value, ttl_ms)


def _check_ttl(ttl_seconds: float) -> None:
    if not ttl_seconds >= MIN_TTL_SECONDS:
        raise ValueError(f"lock ttl must be at least {MIN_TTL_SECONDS} s, got {ttl_seconds}")


def _token(holder: str) -> str:
    return f"{uuid.uuid4().hex}:{holder}"


class FencedLock:
    """The lock at ``key``; ``fence_key`` counts every acquisition (the fencing tokens)."""

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        fence_key: str,
        *,
        ttl_seconds: float,
        holder: str,
        what: str = "lock",
    ) -> None:
        _check_ttl(ttl_seconds)
        self.key = key
        self.fence_key = fence_key
        self.ttl_seconds = ttl_seconds
        self.holder_name = holder.replace("\n", " ")
        self.what = what
        self._redis = client
        self._acquire = client.register_script(_ACQUIRE)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(COMPARE_AND_DELETE)

    @property
    def ttl_ms(self) -> int:
        return int(self.ttl_seconds * 1000)

    def acquire(self) -> Lease | None:
        """A lease (not yet renewing: enter it, or call ``start``), or None when held."""
        asked_at = time.monotonic()
        token = _token(self.holder_name)
        value = self._acquire(keys=[self.key, self.fence_key], args=[token, self.ttl_ms])
        if value is None:
            return None
        parsed = parse_value(value)
        assert parsed is not None  # the script wrote it
        return Lease(self, _text(value), parsed[0], valid_until=asked_at + self.ttl_seconds)

    def holder(self) -> Holder | None:
        """Who holds it now (None: nobody, or it just expired)."""
        return read_holder(self._redis, self.key)

    def renew(self, value: str) -> bool:
        """Extend our lock by the ttl; False when the stored value is not ``value``."""
        return bool(self._renew(keys=[self.key], args=[value, self.ttl_ms]))

    def release(self, value: str) -> bool:
        """Delete our lock; False when it was not ours (any more)."""
        return bool(self._release(keys=[self.key], args=[value]))


class AsyncFencedLock:
    """``FencedLock`` for asyncio, held for one short step: no renewal (the ttl bounds the
    step), so a holder that outlives it may find another holder's value and leaves it."""

    def __init__(
        self,
        client: aioredis.Redis,
        key: str,
        fence_key: str,
        *,
        ttl_seconds: float,
        holder: str,
    ) -> None:
        _check_ttl(ttl_seconds)
        self.key = key
        self.fence_key = fence_key
        self.ttl_ms = int(ttl_seconds * 1000)
        self.holder_name = holder.replace("\n", " ")
        self._redis = client
        self._acquire = client.register_script(_ACQUIRE)
        self._release = client.register_script(COMPARE_AND_DELETE)

    async def acquire(self) -> str | None:
        """The stored value (fence first) when it is ours now, else None."""
        value = await self._acquire(
            keys=[self.key, self.fence_key], args=[_token(self.holder_name), self.ttl_ms]
        )
        return None if value is None else _text(value)

    async def release(self, value: str) -> bool:
        """Delete it if it is still ours (``value``); False when it expired meanwhile."""
        return bool(await self._release(keys=[self.key], args=[value]))

    async def holder(self) -> Holder | None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.get(self.key)
        pipe.pttl(self.key)
        value, ttl_ms = await pipe.execute()
        return _holder(value, ttl_ms)


class Lease:
    """One holding of a ``FencedLock``: its fencing token, its renewal timer, its loss."""

    def __init__(self, lock: FencedLock, value: str, fence: int, *, valid_until: float) -> None:
        self.lock = lock
        self.value = value
        self.fence = fence
        self.lost_reason = ""
        self._valid_until = valid_until  # monotonic: our last confirmed renewal + ttl
        self._lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_lost: list[Callable[[str], None]] = []
        self._guard = threading.Lock()
        self.uses = 0  # what the holder did under it (e.g. reconcile runs), for its records

    # -- state ------------------------------------------------------------------------
    @property
    def held(self) -> bool:
        """True while no renewal failed and the last confirmed one has not run out."""
        if self._lost.is_set():
            return False
        if time.monotonic() >= self._valid_until:
            self._lose("its expiry passed before a renewal was confirmed")
            return False
        return True

    def check(self) -> None:
        """Raise LockLost when the lease is no longer held (the work must stop)."""
        if not self.held:
            raise LockLost(
                f"{self.lock.what} lost (fence {self.fence}): {self.lost_reason}; "
                "this run stops, the next holder carries on"
            )

    def on_lost(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(reason)`` once, from the thread that notices, when the lease is lost."""
        self._on_lost.append(callback)

    # -- renewal ------------------------------------------------------------------------
    def start(self) -> Lease:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._renew_loop, name=f"renew {self.lock.key}", daemon=True
            )
            self._thread.start()
        return self

    def _renew_loop(self) -> None:
        period = self.lock.ttl_seconds / 3
        wait = period
        while not self._stop.wait(wait):
            asked_at = time.monotonic()
            try:
                ours = self.lock.renew(self.value)
            except (redis.RedisError, OSError) as error:
                if asked_at >= self._valid_until:
                    self._lose(f"Redis did not confirm a renewal before its expiry ({error})")
                    return
                wait = min(period, max(0.05, (self._valid_until - asked_at) / 4))
                continue
            if not ours:
                self._lose("another process holds it now (it expired before this renewal)")
                return
            self._valid_until = asked_at + self.lock.ttl_seconds
            wait = period

    def _lose(self, reason: str) -> None:
        with self._guard:
            if self._lost.is_set():
                return
            self.lost_reason = reason
            self._lost.set()
        log.warning(
            "%s lost (fence %d, held by %s): %s; the work under it stops",
            self.lock.what,
            self.fence,
            self.lock.holder_name,
            reason,
        )
        for callback in self._on_lost:
            callback(reason)

    def release(self) -> None:
        """Stop renewing and delete the lock if it is still ours."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        try:
            self.lock.release(self.value)
        except (redis.RedisError, OSError) as error:
            log.warning("%s: release failed (%s); it expires by itself", self.lock.what, error)

    def __enter__(self) -> Lease:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
