"""Helix misbehaving while workers reconcile: latency on every call, a share of 5xx (half of
them after Twitch did the work, the answer lost on its way back), and 429 bursts whose reset
is longer than the reconcile lock's ttl. Several workers and a stream of reconcile requests
compete for the lock meanwhile.

Shared by tests/faults/test_helix_faults.py and bench/fault_scenarios/helix_faults.py.
Targets (issue 11): never two reconciles at once (the runs' records: fence, start, end), at
most 1.2 Helix calls per subscription plus one retry per injected fault; 0 duplicates and
0 orphans once converged.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiss.simulator.testing import run_simulator_process
from tests.faults.control_plane import Plane, max_overlap, wait

PATH = "/helix/eventsub/subscriptions"
LOST_ANSWER = 502  # the 5xx injected after the request was carried out
NO_ANSWER = 503  # the 5xx injected instead of it


@dataclass(frozen=True)
class Storm:
    subscriptions: int
    latency_ms: float
    error_share: float
    bursts: int = 2
    burst_size: int = 3
    lock_seconds: float = 30.0
    rate: float = 10.0
    time_unit: float = 1.0  # the simulator's: a 429's reset comes after its (scaled) window
    workers: int = 2


def run_storm(redis_url: str, workdir: Path, storm: Storm) -> dict[str, Any]:
    with run_simulator_process(time_unit=storm.time_unit) as sim:
        plane = Plane(sim, redis_url, workdir, lock_seconds=storm.lock_seconds,
                      req_rate_per_s=storm.rate)  # fmt: skip
        try:
            return _run(plane, storm)
        finally:
            plane.close()


def _run(plane: Plane, storm: Storm) -> dict[str, Any]:
    total = storm.subscriptions
    channels = [str(20_000 + n) for n in range(total)]
    plane.make_conduit()
    plane.desire(channels)
    base = plane.stats()["helix_requests"]
    control = plane.control
    control.fault(PATH, latency_ms=storm.latency_ms)
    half = storm.error_share / 2
    control.fault(PATH, status=NO_ANSWER, probability=half)
    control.fault(PATH, status=LOST_ANSWER, probability=half / (1 - half), after=True)
    started = time.monotonic()
    for number in range(storm.workers):
        plane.start_worker(f"worker{number}")
    stop = threading.Event()
    requests = threading.Thread(target=_keep_asking, args=(plane, stop), daemon=True)
    requests.start()
    try:
        for burst in range(storm.bursts):
            share = (burst + 1) / (storm.bursts + 1)
            wanted = total * share
            wait(lambda: plane.tally(channels)["placed"] >= wanted, 240, "progress")  # noqa: B023
            control.fault(PATH, kind="ratelimit", count=storm.burst_size)
        wait(lambda: plane.tally(channels)["placed"] == total, 240, "convergence")
        converged = time.monotonic() - started
    finally:
        stop.set()
        requests.join()
    wait(lambda: all(run.finished for run in plane.runs()), 120, "every run finished")
    control.clear_faults()
    stats = plane.stats()
    served = {int(status): n for status, n in stats["faults_served"].items()}
    handled = stats["helix_requests"] - base
    not_handled = served.get(NO_ANSWER, 0) + served.get(429, 0)
    injected = sum(served.values())
    runs = plane.runs()
    tally = plane.tally(channels)
    ordered = sorted(runs, key=lambda run: run.started)
    figures: dict[str, Any] = {
        "events_sent": None,
        "subscriptions": total,
        "duplicated": tally["duplicates"],
        "orphans": tally["orphans"],
        "convergence_seconds": round(converged, 2),
        "bound_seconds": None,
        "runs": len(runs),
        "runs_stopped_lost_lock": sum(1 for run in runs if run.outcome.startswith("stopped")),
        "max_concurrent_reconciles": max_overlap(runs),
        "fences_in_start_order": [r.fence for r in ordered] == sorted(r.fence for r in runs),
        "lock_holdings": len({run.fence for run in runs}),
        "holders": sorted({run.holder.split(" pid")[0] for run in runs}),
        "helix_calls": handled + not_handled,
        "injected_faults": injected,
        "injected_by_status": served,
        "helix_calls_per_subscription": round((handled + not_handled) / total, 3),
        "allowed_calls_per_subscription": round(1.2 + injected / total, 3),
        "lock_lost_logged": sum(
            plane.log(f"worker{n}").count("the reconcile lock lost") for n in range(storm.workers)
        ),
    }
    figures["targets_met"] = (
        figures["max_concurrent_reconciles"] == 1
        and figures["fences_in_start_order"]
        and figures["helix_calls_per_subscription"] <= figures["allowed_calls_per_subscription"]
        and figures["duplicated"] == 0
        and figures["orphans"] == 0
    )
    return figures


def _keep_asking(plane: Plane, stop: threading.Event) -> None:
    """Bots subscribing meanwhile: a reconcile request every half second."""
    while not stop.wait(0.5):
        plane.send("kiss.reconcile")
