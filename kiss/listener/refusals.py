"""Frames the listener refuses (broken or hostile input), counted by kind, logged sparingly.

A flood of junk must cost a counter increment per frame, not a log line or a traceback
each: every refusal adds one to its kind's count (read by the metrics at scrape time), and
each kind is logged at most once per ``interval`` (a minute), the line carrying how many
were refused since the previous one. The kinds are a fixed set, so the memory is too,
whatever the input.

One ``Refusals`` per process (``REFUSALS``, as prometheus_client has one default registry):
the limit is per kind for the whole listener, however many sockets it reads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger("kiss.listener.refused")

KINDS = (
    "not_json",  # not UTF-8 JSON at all
    "too_deep",  # nested deeper than the decoders take
    "not_object",  # JSON, but not an object (a list, a number...)
    "malformed",  # an object, but not an EventSub message's shape
    "bad_timestamp",  # message_timestamp is no RFC3339 time, or a day that does not exist
    "binary_frame",  # Twitch sends text frames only
    "unknown_type",  # a subscription type and version not in the catalog
    "bad_channel_id",  # a channel id that is not a Twitch user id (decimal digits)
    "no_channel",  # a notification that names no channel to route to
    "handler_error",  # handling the frame raised: a bug, contained to that frame
)

DETAIL_CHARS = 200  # a junk frame's text can be megabytes; a log line stays short


class Refusals:
    """Counts of refused frames by kind, and the rate-limited log line of each kind."""

    def __init__(
        self,
        *,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger = log,
    ) -> None:
        self.interval = interval
        self.counts: dict[str, int] = dict.fromkeys(KINDS, 0)
        self._clock = clock
        self._log = logger
        self._logged_at: dict[str, float] = {}
        self._since_line: dict[str, int] = dict.fromkeys(KINDS, 0)

    def refuse(self, kind: str, detail: str, where: str = "") -> None:
        """One frame refused: counted, and logged unless its kind was logged within the interval."""
        if kind not in self.counts:
            kind = "malformed"  # a kind from a newer caller: still counted, memory still bounded
        self.counts[kind] += 1
        self._since_line[kind] += 1
        now = self._clock()
        last = self._logged_at.get(kind)
        if last is not None and now - last < self.interval:
            return
        count, self._since_line[kind] = self._since_line[kind], 0
        self._logged_at[kind] = now
        prefix = f"{where}: " if where else ""
        if last is None:
            summary = "refused a frame"
        else:
            summary = f"refused {count} frame(s) in the last {now - last:.0f} s"
        self._log.warning(
            "%s%s (%s): %s; counted in kiss_listener_refused_frames_total, logged at most "
            "once every %.0f s",
            prefix,
            summary,
            kind,
            detail[:DETAIL_CHARS],
            self.interval,
        )

    def contain(self, error: BaseException, where: str = "") -> None:
        """A frame whose handling raised: refused as ``handler_error``, named by the exception
        and the line that raised it (no traceback: one bad frame a millisecond would flood)."""
        self.refuse("handler_error", f"{type(error).__name__}: {error}{_origin(error)}", where)

    def total(self) -> int:
        return sum(self.counts.values())


def _origin(error: BaseException) -> str:
    tb: TracebackType | None = error.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return f" at {code.co_filename}:{tb.tb_lineno} in {code.co_name}"


REFUSALS = Refusals()
"""The process's refusals: the listener's runners and sockets count here, its metrics read it."""
