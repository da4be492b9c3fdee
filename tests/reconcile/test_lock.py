from __future__ import annotations

import threading

import redis

from kiss.keys import Keys
from kiss.reconcile.lock import ReconcileLock


def test_only_one_holder_and_release_only_by_the_owner(
    redis_client: redis.Redis, keys: Keys
) -> None:
    first, second = ReconcileLock(redis_client, keys), ReconcileLock(redis_client, keys)
    assert first.acquire()
    assert not second.acquire()
    second.release()  # not the owner: nothing happens
    assert not second.acquire()
    assert first.extend()
    first.release()
    assert second.acquire()
    assert not first.extend()


def test_the_lock_expires(redis_client: redis.Redis, keys: Keys) -> None:
    lock = ReconcileLock(redis_client, keys, ttl_seconds=0.05)
    assert lock.acquire()
    ttl = redis_client.pttl(keys.reconcile_lock())
    assert 0 < ttl <= 50


def test_requests_made_while_held_are_run_by_the_holder(
    redis_client: redis.Redis, keys: Keys
) -> None:
    holder = ReconcileLock(redis_client, keys)
    other = ReconcileLock(redis_client, keys)
    entered, proceed = threading.Event(), threading.Event()
    runs: list[str] = []

    def work() -> str:
        runs.append("run")
        if len(runs) == 1:
            entered.set()
            proceed.wait(5)
        return "done"

    thread = threading.Thread(target=lambda: holder.run_requested(work))
    thread.start()
    assert entered.wait(5)
    assert other.run_requested(lambda: "never") == []  # held: its request is queued
    proceed.set()
    thread.join(5)
    assert runs == ["run", "run"]  # the holder ran the queued request too
    assert not redis_client.exists(keys.reconcile_lock())
