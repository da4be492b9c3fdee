"""Hostile frames (issue 11): thousands of junk frames of every kind, mixed with good
notifications, at a real listener process over the simulator, on a private Redis.

Every good event reaches its stream exactly once; the junk leaves no traceback, a log of a
few lines (one per kind per minute), no stream for an invalid channel id, and the listener's
refusal counters account for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from kiss.simulator.testing import SimulatorHandle, run_simulator_process
from tests.faults.hostile_rig import HostileRig
from tests.redis_server import PrivateRedis
from tests.waiting import wait_for

ROUNDS = 6
REPEAT = 40  # per round: 40 x every junk template (24 of them)
CHANNELS = 5


@pytest.fixture
def sim() -> Iterator[SimulatorHandle]:
    with run_simulator_process(time_unit=1.0, rate_limit_points=10**9) as handle:
        yield handle


def test_junk_frames_are_refused_cheaply_and_every_good_event_arrives_once(
    sim: SimulatorHandle, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    rig = HostileRig(sim, private_redis.url, tmp_path, CHANNELS)
    try:
        rig.start()
        figures = rig.run(ROUNDS, REPEAT)
        written = rig.written()
        invalid = rig.invalid_stream_channels()
    finally:
        exit_code = rig.stop()
    print(
        f"\nhostile frames: {figures.frames} junk ({figures.by_kind}), {figures.good} good; "
        f"log {figures.log_bytes} bytes, {figures.tracebacks} tracebacks; listener RSS "
        f"{figures.rss_before_mb:.1f} -> {figures.rss_after_mb:.1f} MB; exit {exit_code}"
    )
    for channel in rig.channels:
        assert written[channel] == rig.sent[channel], channel  # each once, in order
    assert figures.tracebacks == 0, rig.log_path.read_text()[-5000:]
    assert figures.log_bytes < 100_000
    assert invalid == []
    assert exit_code == 0
    log = rig.log_path.read_text()
    for kind in figures.by_kind:
        assert f"({kind})" in log, f"no refusal line for {kind}"


def test_the_listener_counts_refusals_by_kind_on_its_metrics_port(
    sim: SimulatorHandle, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    rig = HostileRig(sim, private_redis.url, tmp_path, 1)
    try:
        rig.start()
        sent = rig.junk(repeat=3)
        rig.good()
        port = rig.metrics_port()
        url = f"http://127.0.0.1:{port}"

        def refused() -> dict[str, float]:
            counts = {}
            for line in requests.get(f"{url}/metrics", timeout=5).text.splitlines():
                if line.startswith("kiss_listener_refused_frames_total{"):
                    kind = line.split('kind="', 1)[1].split('"', 1)[0]
                    counts[kind] = float(line.rsplit(" ", 1)[1])
            return counts

        wait_for(lambda: refused().get("no_channel") == sent["no_channel"], 30, "the counts")
        counts = refused()
        health = requests.get(f"{url}/healthz", timeout=5)
    finally:
        rig.stop()
    assert {kind: int(counts[kind]) for kind in sent} == sent
    assert health.status_code == 200 and health.json()["healthy"] is True
