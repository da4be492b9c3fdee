"""The Celery worker killed with -9 while it creates 500 subscriptions, restarted at once.
Targets: converged within the rate-limit bucket bound + 35 s of the restart (the lock's 30 s
ttl, which a dead worker's lock takes to expire, and 5 s), 0 duplicates, 0 orphans.

The flow and the figures are tests/faults/worker_kill.py's (the fault test runs a smaller
one); a redis-server of the scenario's own, the simulator at Twitch's 800-point bucket.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fault_scenarios import Figures
from tests.faults.worker_kill import kill_mid_create
from tests.redis_server import PrivateRedis


def run(quick: bool) -> Figures:
    total, lock, rate = (150, 10.0, 20.0) if quick else (500, 30.0, 10.0)
    with tempfile.TemporaryDirectory(prefix="worker-killed-") as workdir:
        server = PrivateRedis(str(Path(workdir) / "redis"))
        Path(server.directory).mkdir()
        server.start()
        try:
            figures = kill_mid_create(
                server.url, Path(workdir), subscriptions=total, lock_seconds=lock, rate=rate
            )
        finally:
            server.stop()
    figures.pop("fences", None)
    return {
        "scenario": "worker_killed",
        **figures,
        "lost_after_socket": None,
        "lost_at_twitch": None,
        "order_inversions": None,
        "resume_seconds": None,
        "reconcile_lock_seconds": lock,
    }
