"""Stream replies as the client sees them (``decode_responses=True``: text only), typed.

redis-py types its replies for bytes or text and every call; these casts state once what
a text client gets back, so the rest of the code stays strictly typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

# One row of a stream reply, its id and fields (not the listener's contracts.stream_entry.Entry).
StreamRow = tuple[str, dict[str, str]]
StreamReply = list[tuple[str, list[StreamRow]]]


def entries(reply: Any) -> list[StreamRow]:
    """An XRANGE / XREVRANGE / XCLAIM reply."""
    return cast(list[StreamRow], reply or [])


def streams(reply: Any) -> StreamReply:
    """An XREAD / XREADGROUP reply."""
    return cast(StreamReply, reply or [])


def fields_arg(fields: Mapping[str, str]) -> dict[Any, Any]:
    """Stream fields or hash mapping in the shape redis-py's signatures ask for."""
    return dict(fields)


def raw_stream_reply(raw: Any) -> StreamReply:
    """A raw XREAD / XREADGROUP reply: RESP3 ``{stream: [[id, [k, v, ...]], ...]}`` or RESP2
    ``[[stream, [...]], ...]`` (redis-py speaks either, by version and URL).

    An entry deleted while pending comes with no fields; it gets an empty mapping.
    """
    pairs = raw.items() if isinstance(raw, Mapping) else (raw or ())
    reply: StreamReply = []
    for stream, rows in pairs:
        reply.append(
            (
                stream,
                [
                    (stream_id, dict(zip(flat[::2], flat[1::2], strict=True)) if flat else {})
                    for stream_id, flat in rows
                ],
            )
        )
    return reply
