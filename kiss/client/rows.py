"""Stream replies as the client sees them (``decode_responses=True``: text only), typed.

redis-py types its replies for bytes or text and every call; these casts state once what
a text client gets back, so the rest of the code stays strictly typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

Entry = tuple[str, dict[str, str]]
StreamReply = list[tuple[str, list[Entry]]]


def entries(reply: Any) -> list[Entry]:
    """An XRANGE / XREVRANGE / XCLAIM reply."""
    return cast(list[Entry], reply or [])


def streams(reply: Any) -> StreamReply:
    """An XREAD / XREADGROUP reply."""
    return cast(StreamReply, reply or [])


def fields_arg(fields: Mapping[str, str]) -> dict[Any, Any]:
    """Stream fields or hash mapping in the shape redis-py's signatures ask for."""
    return dict(fields)
