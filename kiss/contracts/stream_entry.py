"""A channel stream's entry, as the listener writes it and a bot reads it (no I/O).

An entry is an ``Entry``: its stream and dedup key, then the fields in ``FIELDS`` order,
the event's JSON last. Every value is a string but the event, bytes of JSON. ``kind`` says
what it is (``KINDS``); the event of a revocation is ``{"status": reason}``, of a gap
``{"from": epoch s, "to": epoch s, "reason": text}`` (``revocation_event``, ``gap_event``).

``encode`` is the one way to build an entry from Python values and ``decode`` the one way
back; the listener's entry builder builds the same tuple in one pass (the event already JSON,
raw from the frame on the hot path; ``received`` formatted by ``epoch_text``), and the
writer's Lua script takes the field names and their positions from ``Entry``. Only the
standard library and orjson, so that the bot client imports it alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, NamedTuple

import orjson

from kiss.contracts.timestamps import epoch_text

Kind = Literal["notification", "revocation", "gap"]
NOTIFICATION: Final = "notification"
REVOCATION: Final = "revocation"
GAP: Final = "gap"
KINDS: Final[tuple[Kind, ...]] = (NOTIFICATION, REVOCATION, GAP)

# The event object of the rare kinds.
REVOCATION_STATUS: Final = "status"
GAP_FROM: Final = "from"
GAP_TO: Final = "to"
GAP_REASON: Final = "reason"


class Entry(NamedTuple):
    """One stream entry; flat, so that building it and packing a batch of them stay cheap."""

    stream: str
    dedup: str  # the event's own-id key when its type has one, else the message id's key
    kind: str
    message_id: str
    type: str
    version: str
    channel_id: str
    subscription_id: str
    twitch_ts: str  # Twitch's message_timestamp, as Twitch wrote it
    received_ts: str  # epoch seconds, ``epoch_text``
    event: bytes  # JSON, as Twitch sent it where it can be

    def fields(self) -> dict[str, str | bytes]:
        """The stream fields, in ``FIELDS`` order."""
        return dict(zip(FIELDS, self[_FIRST_FIELD:], strict=True))


_FIRST_FIELD: Final = 2  # stream and dedup come first: where the entry goes, not what it says
FIELDS: Final[tuple[str, ...]] = Entry._fields[_FIRST_FIELD:]
EVENT: Final = FIELDS[-1]  # last: the writer passes it beside the other fields
assert EVENT == "event"


def position(field: str) -> int:
    """Where a field is in an ``Entry`` (from 0)."""
    return Entry._fields.index(field)


class Decoded(NamedTuple):
    """An entry's fields as Python values, in ``FIELDS`` order."""

    kind: Kind
    message_id: str
    type: str
    version: str
    channel_id: str
    subscription_id: str
    twitch_ts: str
    received_ts: float
    event: Any


assert Decoded._fields == FIELDS


class EntryError(ValueError):
    """An entry that breaks this contract; the message names the field and its value."""


def encode(
    stream: str,
    dedup: str,
    kind: Kind,
    message_id: str,
    type_: str,
    version: str,
    channel_id: str,
    subscription_id: str,
    twitch_ts: str,
    received_ts: float,
    event: object,
) -> Entry:
    """The entry of these values; orjson.JSONEncodeError if the event cannot be JSON (nested
    deeper than 254 levels, say)."""
    return Entry(
        stream, dedup, kind, message_id, type_, version, channel_id, subscription_id,
        twitch_ts, epoch_text(received_ts), orjson.dumps(event),
    )  # fmt: skip


def decode(fields: Mapping[str, str]) -> Decoded:
    """The values of an entry's fields (as a client with ``decode_responses`` reads them);
    EntryError naming what is wrong. A field that is missing reads as empty."""
    kind = fields.get("kind", "")
    if kind not in KINDS:
        raise EntryError(f"unknown kind {kind!r}")
    try:
        event = orjson.loads(fields.get(EVENT, "null"))
    except orjson.JSONDecodeError as error:
        raise EntryError(f"event is not JSON: {error}") from error
    received = fields.get("received_ts") or 0.0
    try:
        received_ts = float(received)
    except ValueError as error:
        raise EntryError(f"received_ts {received!r} is not a number") from error
    return Decoded(
        kind,
        fields.get("message_id", ""),
        fields.get("type", ""),
        fields.get("version", ""),
        fields.get("channel_id", ""),
        fields.get("subscription_id", ""),
        fields.get("twitch_ts", ""),
        received_ts,
        event,
    )


def revocation_event(status: str) -> dict[str, str]:
    """The event of a revocation entry: Twitch's reason."""
    return {REVOCATION_STATUS: status}


def gap_event(start: float, end: float, reason: str) -> dict[str, float | str]:
    """The event of a gap entry: events between ``start`` and ``end`` may be missing."""
    return {GAP_FROM: start, GAP_TO: end, GAP_REASON: reason}
