from __future__ import annotations

import threading

import redis

from kiss.keys import Keys
from kiss.locks import Lease
from kiss.reconcile.lock import ReconcileLock
from tests.waiting import wait_for


def test_requests_made_while_held_are_run_by_the_holder(
    redis_client: redis.Redis, keys: Keys
) -> None:
    holder = ReconcileLock(redis_client, keys, holder="one")
    other = ReconcileLock(redis_client, keys, holder="two")
    entered, proceed = threading.Event(), threading.Event()
    runs: list[tuple[int, bool]] = []

    def work(lease: Lease, resync: bool) -> str:
        runs.append((lease.fence, resync))
        if len(runs) == 1:
            entered.set()
            proceed.wait(5)
        return "done"

    thread = threading.Thread(target=lambda: holder.run_requested(work))
    thread.start()
    assert entered.wait(5)
    # Held: the request (a resync) is queued for the holder, at once.
    assert other.run_requested(lambda lease, resync: "never", resync=True) == []
    proceed.set()
    thread.join(5)
    assert runs == [(1, False), (1, True)]  # the holder ran it, and re-read Twitch for it
    assert not redis_client.exists(keys.reconcile_lock())


def test_a_waiter_runs_once_a_dead_holders_lock_expires(
    redis_client: redis.Redis, keys: Keys
) -> None:
    dead = ReconcileLock(redis_client, keys, ttl_seconds=1.0, holder="dead").acquire()
    assert dead is not None  # never renewed: its worker was killed
    waiter = ReconcileLock(redis_client, keys, holder="restarted")
    runs = waiter.run_requested(lambda lease, resync: (lease.fence, resync), resync=True,
                                wait_seconds=5.0)  # fmt: skip
    assert runs == [(dead.fence + 1, True)]


def test_a_bounded_wait_leaves_the_request_to_a_live_holder(
    redis_client: redis.Redis, keys: Keys
) -> None:
    live = ReconcileLock(redis_client, keys, ttl_seconds=0.6, holder="live")
    lease = live.acquire()
    assert lease is not None
    with lease:  # renewed: it does not expire
        waiter = ReconcileLock(redis_client, keys, holder="waiter")
        assert waiter.run_requested(lambda lease, resync: 1, wait_seconds=1.0) == []
        assert redis_client.exists(keys.reconcile_requested())  # still queued for the holder
        assert live.take_request() and live.take_resync() is False


def test_a_run_that_lost_its_lock_takes_no_further_request(
    redis_client: redis.Redis, keys: Keys
) -> None:
    lock = ReconcileLock(redis_client, keys, ttl_seconds=0.6, holder="one")
    runs: list[int] = []

    def work(lease: Lease, resync: bool) -> int:
        runs.append(lease.fence)
        lock.request()  # someone asks again meanwhile
        redis_client.set(keys.reconcile_lock(), "99:x:two", px=5000)  # and the lock is gone
        wait_for(lambda: not lease.held, within=2.0, what="the loss")
        return lease.fence

    assert lock.run_requested(work) == [1]
    assert redis_client.exists(keys.reconcile_requested())  # left for the new holder
