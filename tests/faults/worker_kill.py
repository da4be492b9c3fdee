"""A Celery worker killed with -9 while it creates many subscriptions, restarted at once.

Shared by tests/faults/test_worker_killed.py and bench/fault_scenarios/worker_killed.py.
Target (issue 11): converged within the rate-limit bucket bound + 35 s after the restart
(35 s = the lock's default 30 s ttl, which a dead worker's lock takes to expire, and 5 s),
0 duplicates, 0 orphans at Twitch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kiss.simulator.testing import run_simulator_process
from tests.faults.control_plane import Plane, bucket_bound, max_overlap, wait

POINTS = 800  # the simulator's bucket (Twitch's default)


def kill_mid_create(
    redis_url: str, workdir: Path, *, subscriptions: int, lock_seconds: float, rate: float
) -> dict[str, Any]:
    with run_simulator_process(time_unit=1.0, rate_limit_points=POINTS) as sim:
        plane = Plane(sim, redis_url, workdir, lock_seconds=lock_seconds, req_rate_per_s=rate)
        try:
            return _run(plane, subscriptions)
        finally:
            plane.close()


def _run(plane: Plane, total: int) -> dict[str, Any]:
    channels = [str(10_000 + n) for n in range(total)]
    plane.make_conduit()
    plane.desire(channels)
    first = plane.start_worker("first")  # its start-up resync creates them all
    kill_at = max(1, total // 3)
    wait(lambda: plane.tally(channels)["placed"] >= kill_at, 120, f"{kill_at} created")
    killed = plane.kill(first)
    killed_epoch = time.time()
    at_kill = plane.tally(channels)["placed"]
    before = plane.stats()["helix_requests"]
    plane.start_worker("second")
    restarted = time.monotonic()
    remaining = total - at_kill
    pages = total // 100 + 1  # the resync lists the app's subscriptions
    bound = bucket_bound(remaining + pages, rate_per_s=plane.req_rate_per_s, points=POINTS,
                         window=60.0)  # fmt: skip
    allowance = bound + lock_seconds_allowance(plane.lock_seconds)
    try:
        wait(lambda: plane.tally(channels)["placed"] == total, allowance + 30, "convergence")
        converged = time.monotonic() - restarted
    except TimeoutError:
        converged = float("inf")
    wait(lambda: plane.runs() and plane.runs()[-1].finished, 30, "the last run recorded")
    tally = plane.tally(channels)
    runs = plane.runs()
    log = plane.log("second")
    figures: dict[str, Any] = {
        "events_sent": None,
        "subscriptions": total,
        "created_before_kill": at_kill,
        "duplicated": tally["duplicates"],
        "orphans": tally["orphans"],
        "placed": tally["placed"],
        "convergence_seconds": round(converged, 2),
        "bound_seconds": round(bound, 2),
        "allowed_seconds": round(allowance, 2),
        "kill_to_restart_seconds": round(restarted - killed, 2),
        "helix_calls_after_restart": plane.stats()["helix_requests"] - before,
        # Both workers' calls (the conduit's creation too): creates, the resync's listing.
        "helix_calls_per_subscription": round(plane.stats()["helix_requests"] / total, 3),
        "runs": len(runs),
        "fences": [run.fence for run in runs],
        "max_concurrent_reconciles": max_overlap(runs, open_until=killed_epoch),
        "waited_for_the_lock": "waiting up to" in log,
        "resync_errors": log.count("ERROR"),
    }
    figures["targets_met"] = (
        converged <= allowance
        and figures["duplicated"] == 0
        and figures["orphans"] == 0
        and figures["max_concurrent_reconciles"] == 1
    )
    return figures


def lock_seconds_allowance(lock_seconds: float) -> float:
    """What the target adds to the bucket bound: the lock's ttl (a dead holder's lock expires
    by then) and 5 s; 35 s at the default ttl of 30 s."""
    return lock_seconds + 5.0
