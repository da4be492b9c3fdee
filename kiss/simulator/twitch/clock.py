"""Twitch timestamps of the simulator's clock (epoch seconds in, RFC3339 nanoseconds out)."""

from __future__ import annotations

from kiss.eventsub.timestamps import format_timestamp


def timestamp(now: float) -> str:
    return format_timestamp(int(now * 1_000_000_000))


class FastTimestamps:
    """``timestamp`` for the hot path: the seconds part is formatted once per second."""

    __slots__ = ("_prefix", "_second")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def now(self, epoch_ns: int) -> str:
        second, nanos = divmod(epoch_ns, 1_000_000_000)
        if second != self._second:
            self._second = second
            self._prefix = format_timestamp(second * 1_000_000_000)[:-11]
        return f"{self._prefix}.{nanos:09d}Z"
