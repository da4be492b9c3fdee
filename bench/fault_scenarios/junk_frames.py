"""100,000 junk frames of every kind (``--quick``: 20,000) mixed with good notifications, at a
real listener over the simulator. Targets: 0 tracebacks, under 100 KB of log, RSS growth
under 2 MB (measured after the first round, so the decoders' one-time growth is not counted),
and every good event in its stream exactly once.

The rig (simulator, conduit, subscriptions, listener process, reading back) is the fault
test's: tests/faults/hostile_rig.py.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from harness import REDIS_URL, say

from fault_scenarios import Figures
from kiss.simulator.faults import hostile_frames
from kiss.simulator.testing import run_simulator_process
from tests.faults.hostile_rig import HostileRig

TEMPLATES = sum(len(frames) for frames in hostile_frames("1", "s", "t").values())
TARGETS = {"tracebacks": 0, "log_bytes": 100_000, "rss_growth_mb": 2.0}
CHANNELS = 10


def run(quick: bool) -> Figures:
    total = 20_000 if quick else 100_000
    rounds = 10 if quick else 25
    repeat = -(-total // (rounds * TEMPLATES))  # at least ``total``
    tmp = Path(tempfile.mkdtemp(prefix="kiss-bench-junk-"))
    with run_simulator_process(time_unit=1.0, rate_limit_points=10**9) as sim:
        rig = HostileRig(sim, REDIS_URL, tmp, CHANNELS)
        try:
            rig.start()
            say(f"junk_frames: {rounds} rounds of {repeat * TEMPLATES} junk frames and "
                f"{CHANNELS} good notifications")  # fmt: skip
            figures = rig.run(rounds, repeat)
            written = rig.written()
            invalid = rig.invalid_stream_channels()
        finally:
            exit_code = rig.stop()
            doomed = list(rig.redis.scan_iter(match=f"{rig.keys.prefix}:*", count=5000))
            if doomed:
                rig.redis.unlink(*doomed)
    lost = sum(len(set(rig.sent[c]) - set(written[c])) for c in rig.channels)
    duplicated = sum(len(written[c]) - len(set(written[c])) for c in rig.channels)
    inversions = sum(_inversions(rig.sent[c], written[c]) for c in rig.channels)
    say(f"  {figures.frames} junk frames, {figures.good} good; log {figures.log_bytes} bytes, "
        f"{figures.tracebacks} tracebacks; RSS {figures.rss_before_mb:.1f} -> "
        f"{figures.rss_after_mb:.1f} MB")  # fmt: skip
    result: Figures = {
        "scenario": "junk_frames",
        "events_sent": figures.good,
        "lost_after_socket": lost,
        "lost_at_twitch": None,
        "duplicated": duplicated,
        "order_inversions": inversions,
        "resume_seconds": None,
        "convergence_seconds": None,
        "bound_seconds": None,
        "junk_frames": figures.frames,
        "junk_by_kind": figures.by_kind,
        "tracebacks": figures.tracebacks,
        "log_bytes": figures.log_bytes,
        "rss_before_mb": round(figures.rss_before_mb, 2),
        "rss_after_mb": round(figures.rss_after_mb, 2),
        "rss_growth_mb": round(figures.rss_growth_mb, 2),
        "invalid_stream_keys": len(invalid),
        "listener_exit_code": exit_code,
    }
    result["targets_met"] = (
        figures.tracebacks <= TARGETS["tracebacks"]
        and figures.log_bytes < TARGETS["log_bytes"]
        and figures.rss_growth_mb < TARGETS["rss_growth_mb"]
        and lost == 0
        and duplicated == 0
        and not invalid
        and exit_code == 0
    )
    return result


def _inversions(sent: list[str], written: list[str]) -> int:
    """Neighbouring entries of the stream that came in the other order than they were sent."""
    position = {message_id: index for index, message_id in enumerate(sent)}
    order = [position[m] for m in written if m in position]
    return sum(1 for a, b in itertools.pairwise(order) if b < a)
