"""Twitch timestamps of the simulator's clock (epoch seconds in, RFC3339 nanoseconds out)."""

from __future__ import annotations

from kiss.eventsub.timestamps import format_timestamp


def timestamp(now: float) -> str:
    return format_timestamp(int(now * 1_000_000_000))
