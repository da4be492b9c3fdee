"""Reprocessing: read a channel stream again from a position or a time.

``replay`` pages through the stream with XRANGE and touches no group (nothing to ack);
``rewind`` moves the bot's group back with XGROUP SETID, so that its handlers get the
entries again, with the usual acknowledgement and retry.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Literal

import redis.asyncio as aioredis

from kiss.client.errors import MalformedEntry
from kiss.client.events import ChannelEvent, parse_entry
from kiss.client.rows import entries

Position = str | float | datetime
# Where a bot name seen for the first time on a channel starts: only what comes after it
# starts, everything the stream retains, or the entries from a time (epoch seconds, or an
# aware datetime) on. A bot that ran before goes on from its own place, whatever this says.
StartPosition = Literal["now", "beginning"] | float | datetime

_LAST_SEQUENCE = 2**64 - 1


def first_read_id(start: StartPosition) -> str:
    """The id a new consumer group starts after, for ``XGROUP CREATE``."""
    if start == "now":
        return "$"
    if start == "beginning":
        return "0"
    given: object = start  # callers are not all type-checked
    if not isinstance(given, int | float | datetime) or isinstance(given, bool):
        raise ValueError(f"start must be 'now', 'beginning' or a time, got {start!r}")
    ms = int(start_id(given).partition("-")[0])
    # Just before the first id of that millisecond, so its entries are delivered.
    return f"{ms - 1}-{_LAST_SEQUENCE}" if ms > 0 else "0"


def start_id(position: Position) -> str:
    """A stream id (kept as is), or a time (epoch seconds or aware datetime) as ``<ms>-0``."""
    if isinstance(position, str):
        if not _is_stream_id(position):
            raise ValueError(f"not a stream id: {position!r} (want <ms>-<seq>, <ms>, - or 0)")
        return position
    seconds = position.timestamp() if isinstance(position, datetime) else float(position)
    if seconds < 0:
        raise ValueError(f"a time before the epoch: {position!r}")
    return f"{int(seconds * 1000)}-0"


def _is_stream_id(text: str) -> bool:
    if text == "-":
        return True
    ms, _, seq = text.partition("-")
    return ms.isdigit() and (seq == "" or seq.isdigit())


async def replay(
    redis: aioredis.Redis,
    stream: str,
    position: Position,
    *,
    end: Position | None = None,
    batch: int = 500,
) -> AsyncIterator[ChannelEvent]:
    """The entries from ``position`` (inclusive) to ``end`` (inclusive), in order.

    Malformed entries are skipped: the group reader already dead-lettered them.
    """
    low = start_id(position)
    high = "+" if end is None else start_id(end)
    while True:
        page = entries(await redis.xrange(stream, min=low, max=high, count=batch))
        for stream_id, fields in page:
            try:
                yield parse_entry(stream_id, fields)
            except MalformedEntry:
                continue
        if len(page) < batch:
            return
        low = f"({page[-1][0]}"


async def rewind(redis: aioredis.Redis, stream: str, group: str, position: Position) -> str:
    """Make the group deliver again every entry from ``position`` on; returns the new last id."""
    first = entries(await redis.xrange(stream, min=start_id(position), max="+", count=1))
    if not first:
        last = "$"  # nothing at or after that position: only new entries
    else:
        before = entries(await redis.xrevrange(stream, max=f"({first[0][0]}", min="-", count=1))
        last = before[0][0] if before else "0"
    await redis.xgroup_setid(stream, group, last)
    return last
