"""Twitch timestamps of the simulator's clock."""

from __future__ import annotations

import time

from kiss.eventsub.timestamps import format_timestamp, parse_timestamp
from kiss.simulator.twitch.clock import FastTimestamps, timestamp


def test_timestamp_has_nanoseconds() -> None:
    text = timestamp(1_700_000_000.25)
    assert text.startswith("2023-11-14T22:13:20.2") and text.endswith("Z") and len(text) == 30
    assert abs(parse_timestamp(text) - 1_700_000_000.25) < 1e-6


def test_fast_timestamps_match_the_reference() -> None:
    fast = FastTimestamps()
    now = time.time_ns()
    for offset in (0, 1, 999_999_999, 1_000_000_000, 86_400 * 10**9 + 7):
        assert fast.now(now + offset) == format_timestamp(now + offset)
