"""Twitch's RFC3339 timestamps, which carry nanoseconds (more than datetime holds)."""

from __future__ import annotations

import calendar
import math
import re
import time

from kiss.errors import MalformedMessage

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$"
)


def parse_timestamp(text: str) -> float:
    """Seconds since the epoch of an RFC3339 timestamp; MalformedMessage (kind
    ``bad_timestamp``) if it is not one, or names a day that does not exist."""
    match = _RFC3339.match(text) if isinstance(text, str) else None
    if match is None:
        raise _bad(text)
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    if not (
        1 <= month <= 12
        and 1 <= day <= _days_in(year, month)
        and hour < 24
        and minute < 60
        and second < 61
    ):
        raise _bad(text)
    whole = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    fraction = match.group(7)
    seconds = whole + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)
    zone = match.group(8)
    if zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    return seconds


def is_real_date(year: int, month: int, day: int) -> bool:
    """A day that exists (no 31 April, no 29 February outside leap years, no year 0)."""
    return year >= 1 and 1 <= month <= 12 and 1 <= day <= _days_in(year, month)


def _days_in(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1] if year >= 1 and 1 <= month <= 12 else 0


def _bad(text: object) -> MalformedMessage:
    shown = text[:40] if isinstance(text, str) else type(text).__name__  # junk can be huge
    return MalformedMessage(f"not an RFC3339 timestamp: {shown!r}", kind="bad_timestamp")


def format_timestamp(epoch_ns: int | None = None) -> str:
    """RFC3339 with nanosecond precision, as Twitch writes it: the one form of every timestamp
    the hub writes in Twitch's place (``format_epoch`` from epoch seconds)."""
    if epoch_ns is None:
        epoch_ns = time.time_ns()
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def format_epoch(seconds: float) -> str:
    """``format_timestamp`` of epoch seconds, their fraction rounded to the nanosecond (not
    through ``seconds * 1e9``, which a float holds only to a few hundred nanoseconds)."""
    whole = math.floor(seconds)
    return format_timestamp(whole * 1_000_000_000 + round((seconds - whole) * 1_000_000_000))
