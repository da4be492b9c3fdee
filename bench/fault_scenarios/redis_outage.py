"""Redis down 60 s (quick: 20 s) under 2,000 events/s, at Twitch's real timing (keepalive 10 s,
so the outage outlasts the keepalive deadline): 0 lost after the socket, 0 duplicated, order
kept per channel, the session kept; and how long the spool takes to drain once Redis is back.

The driver is tests/faults/outage.py, shared with tests/faults/test_redis_outage.py.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from fault_scenarios import Figures
from tests.faults.outage import Outage, run_outage

RATE = 2_000


def run(quick: bool) -> Figures:
    outage = 20.0 if quick else 60.0
    plan = Outage(rate=RATE, before=3.0, outage=outage, after=5.0, channels=50, time_unit=1.0)
    with tempfile.TemporaryDirectory(prefix="kiss-fault-redis-outage-") as tmp:
        found = run_outage(plan, Path(tmp), say=lambda text: print(text, file=sys.stderr))
    figures = asdict(found)
    figures.pop("notes")
    figures.update(
        scenario="redis_outage",
        rate=RATE,
        outage_seconds=outage,
        resume_seconds=None,  # the session is never dropped: nothing resumes
        spool_drain_seconds=found.drain_seconds,
    )
    figures["targets_met"] = (
        found.lost_after_socket == 0
        and found.duplicated == 0
        and found.order_inversions == 0
        and found.session_kept
        and found.events_sent > 0
    )
    return figures
