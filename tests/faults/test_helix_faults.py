"""Issue 11: Helix latency, 5xx and 429 bursts longer than the lock's ttl, several workers."""

from __future__ import annotations

from pathlib import Path

from tests.faults.helix_storm import Storm, run_storm
from tests.redis_server import PrivateRedis
from tests.waiting import PROCESS_TIME_UNIT


def test_never_two_reconciles_at_once_and_few_calls_per_subscription(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    # Scaled down: 100 subscriptions, 100 ms latency, a 3 s lock; the simulator at 1/20 of
    # Twitch's time, so that each 429 burst blocks the bucket for about 4 s: past the ttl.
    storm = Storm(subscriptions=100, latency_ms=100, error_share=0.2, lock_seconds=3.0,
                  rate=20.0, time_unit=PROCESS_TIME_UNIT)  # fmt: skip
    figures = run_storm(private_redis.url, tmp_path, storm)
    print("helix_faults:", figures)
    assert figures["injected_by_status"].get(429, 0) == 2 * storm.burst_size
    assert figures["injected_by_status"].get(502, 0) > 0  # answers lost: 409s on the retries
    assert figures["runs"] > 1  # the requests made meanwhile did compete for the lock
    assert figures["max_concurrent_reconciles"] == 1
    assert figures["runs_stopped_lost_lock"] == 0  # renewed on its timer through every wait
    assert figures["fences_in_start_order"]
    assert figures["helix_calls_per_subscription"] <= figures["allowed_calls_per_subscription"]
    assert figures["duplicated"] == 0
    assert figures["orphans"] == 0
