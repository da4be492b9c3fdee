"""kiss.locks on the real Redis: fencing, renewal on a timer, loss, expiry of a dead holder."""

from __future__ import annotations

import logging
import time

import pytest
import redis

from kiss.errors import LockLost
from kiss.keys import Keys
from kiss.locks import FencedLock, parse_value
from tests.waiting import wait_for


def make(client: redis.Redis, keys: Keys, ttl: float = 0.6, holder: str = "a") -> FencedLock:
    return FencedLock(
        client, f"{keys.prefix}:lock", f"{keys.prefix}:fence", ttl_seconds=ttl, holder=holder
    )


def test_one_holder_at_a_time_each_with_a_larger_fencing_token(
    redis_client: redis.Redis, keys: Keys
) -> None:
    first, second = make(redis_client, keys, holder="a"), make(redis_client, keys, holder="b")
    lease = first.acquire()
    assert lease is not None and lease.fence == 1
    assert second.acquire() is None
    holder = second.holder()
    assert holder is not None and (holder.fence, holder.name) == (1, "a")
    assert "a (fence 1, expires in" in holder.describe()
    assert not second.release("1:not-ours:b")  # only the exact value deletes it
    lease.release()
    taken = second.acquire()
    assert taken is not None and taken.fence == 2
    assert not first.renew(lease.value)  # the old holder can neither extend nor delete it
    assert not first.release(lease.value)
    assert parse_value(taken.value) == (2, "b")


def test_the_timer_keeps_the_lock_while_the_work_is_slow(
    redis_client: redis.Redis, keys: Keys
) -> None:
    lock, other = make(redis_client, keys, ttl=0.6), make(redis_client, keys, holder="b")
    lease = lock.acquire()
    assert lease is not None
    with lease:
        deadline = time.monotonic() + 2.0  # more than three ttls, with no progress at all
        while time.monotonic() < deadline:
            assert other.acquire() is None
            lease.check()
            time.sleep(0.05)
    assert redis_client.get(lock.key) is None  # released at the end of the block


def test_a_lease_taken_over_is_lost_within_a_renewal_period(
    redis_client: redis.Redis, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    lock = make(redis_client, keys, ttl=0.6)
    lease = lock.acquire()
    assert lease is not None
    reasons: list[str] = []
    lease.on_lost(reasons.append)
    with caplog.at_level(logging.WARNING, logger="kiss.locks"), lease:
        redis_client.set(lock.key, "99:someone:else", px=5000)  # it expired and b took it
        wait_for(lambda: not lease.held, within=1.0, what="the loss")
        with pytest.raises(LockLost, match="fence 1"):
            lease.check()
        time.sleep(0.3)
    assert reasons and "another process holds it" in reasons[0]
    assert len([r for r in caplog.records if "lost" in r.getMessage()]) == 1  # logged once
    assert redis_client.get(lock.key) == "99:someone:else"  # its release left b's lock alone


def test_a_dead_holder_frees_the_lock_within_its_ttl(redis_client: redis.Redis, keys: Keys) -> None:
    dead = make(redis_client, keys, ttl=0.5).acquire()  # never renewed: the process died
    assert dead is not None
    started = time.monotonic()
    lease = wait_for(lambda: make(redis_client, keys, holder="b").acquire(), 2.0, "the lock")
    assert time.monotonic() - started <= 0.6
    assert lease is not None and lease.fence == dead.fence + 1
    assert not dead.held  # its own clock says so too


def test_a_too_short_ttl_is_refused(redis_client: redis.Redis, keys: Keys) -> None:
    with pytest.raises(ValueError, match="at least"):
        make(redis_client, keys, ttl=0.1)
