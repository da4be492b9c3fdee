"""A bot killed with -9 mid-flow and restarted at once under its name: 0 lost, 0 inversions.

The flow and the figures are tests/faults/bot_kill.py's (the fault test runs a smaller one),
on a redis-server of the scenario's own.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from fault_scenarios import Figures
from tests.faults.bot_kill import kill_and_restart
from tests.redis_server import PrivateRedis


def run(quick: bool) -> Figures:
    total, rate = (3_000, 1_000.0) if quick else (20_000, 2_000.0)
    with tempfile.TemporaryDirectory(prefix="bot-killed-") as workdir:
        server = PrivateRedis(str(Path(workdir)))
        server.start()
        try:
            figures = kill_and_restart(
                server.url, Path(workdir), total=total, rate=rate, kill_at=total // 2
            )
        finally:
            server.stop()
    figures.pop("consumers", None)
    return {
        "scenario": "bot_killed",
        **figures,
        "lost_at_twitch": None,
        "convergence_seconds": None,
        "bound_seconds": None,
        "targets_met": figures["lost_after_socket"] == 0 and figures["order_inversions"] == 0,
    }
