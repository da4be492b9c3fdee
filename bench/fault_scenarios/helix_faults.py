"""Helix with 500 ms latency on every subscription call, 20 % 5xx (half of them after the
work was done: the answer lost) and two 429 bursts, while two workers reconcile 300
subscriptions and reconcile requests keep coming. Targets: never two reconciles at once (the
runs' records: fencing token, start, end), at most 1.2 Helix calls per subscription plus one
retry per injected fault, 0 duplicates, 0 orphans.

The flow and the figures are tests/faults/helix_storm.py's. Full: the simulator at Twitch's
time, so that each 429 blocks the bucket for its minute, twice the lock's 30 s ttl; quick: the
fault test's scale (a 429 blocks about 4 s against a 3 s lock).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fault_scenarios import Figures
from tests.faults.helix_storm import Storm, run_storm
from tests.redis_server import PrivateRedis

FULL = Storm(subscriptions=300, latency_ms=500, error_share=0.2)
QUICK = Storm(subscriptions=100, latency_ms=100, error_share=0.2, lock_seconds=3.0, rate=20.0,
              time_unit=0.05)  # fmt: skip


def run(quick: bool) -> Figures:
    storm = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="helix-faults-") as workdir:
        server = PrivateRedis(str(Path(workdir) / "redis"))
        Path(server.directory).mkdir()
        server.start()
        try:
            figures = run_storm(server.url, Path(workdir), storm)
        finally:
            server.stop()
    return {
        "scenario": "helix_faults",
        **figures,
        "lost_after_socket": None,
        "lost_at_twitch": None,
        "order_inversions": None,
        "resume_seconds": None,
        "latency_ms": storm.latency_ms,
        "error_share": storm.error_share,
        "reconcile_lock_seconds": storm.lock_seconds,
    }
