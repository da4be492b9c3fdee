"""Issue 11, "one reconciliation at a time": kill -9 of the worker mid-create, restarted."""

from __future__ import annotations

from pathlib import Path

from tests.faults.worker_kill import kill_mid_create
from tests.redis_server import PrivateRedis


def test_a_worker_killed_mid_create_converges_without_duplicates_or_orphans(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    # Scaled down: 150 subscriptions at 20 calls/s, a 10 s lock (the bench runs 500 and 30 s).
    figures = kill_mid_create(
        private_redis.url, tmp_path, subscriptions=150, lock_seconds=10.0, rate=20.0
    )
    print("worker_killed:", figures)
    assert figures["created_before_kill"] < 150  # the kill did land mid-create
    assert figures["convergence_seconds"] <= figures["allowed_seconds"]
    assert figures["duplicated"] == 0
    assert figures["orphans"] == 0
    assert figures["max_concurrent_reconciles"] == 1
    assert figures["waited_for_the_lock"]  # the restarted worker's resync waited, not failed
    assert figures["resync_errors"] == 0
