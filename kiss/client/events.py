"""The typed events a bot receives, parsed from its channel stream's entries (no I/O).

An entry's fields are the listener's contract (docs/architecture.md, "Redis streams"):
``kind`` says which type it becomes: ``Notification``, ``Revocation`` or ``Gap``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from kiss.client.errors import MalformedEntry

Kind = Literal["notification", "revocation", "gap"]
KINDS: frozenset[str] = frozenset({"notification", "revocation", "gap"})


@dataclass(frozen=True, slots=True)
class ChannelEvent:
    """One entry of a channel stream, as the bot's handler sees it.

    ``stream_id`` is unique per entry and ``message_id`` per Twitch message: either serves
    for idempotence, since delivery is at least once (``delivery_count`` > 1 on a retry).
    """

    kind: Kind
    message_id: str
    type: str
    version: str
    channel_id: str
    subscription_id: str
    twitch_ts: str
    received_ts: float
    event: Any
    stream_id: str
    delivery_count: int = 1

    @property
    def redelivered(self) -> bool:
        return self.delivery_count > 1

    @property
    def stream_ms(self) -> int:
        """When Redis stored the entry, in epoch milliseconds (the first part of its id)."""
        return int(self.stream_id.split("-", 1)[0])


@dataclass(frozen=True, slots=True)
class Notification(ChannelEvent):
    """A Twitch notification: ``event`` is its event object (or list, for batched types)."""


@dataclass(frozen=True, slots=True)
class Revocation(ChannelEvent):
    """Twitch revoked the subscription ``subscription_id``; no more events of ``type``."""

    @property
    def reason(self) -> str:
        return str(self.event.get("status", "")) if isinstance(self.event, dict) else ""


@dataclass(frozen=True, slots=True)
class Gap(ChannelEvent):
    """The listener lost its session between ``gap_from`` and ``gap_to``: events may be missing."""

    @property
    def gap_from(self) -> float | None:
        return _float_or_none(self.event.get("from")) if isinstance(self.event, dict) else None

    @property
    def gap_to(self) -> float | None:
        return _float_or_none(self.event.get("to")) if isinstance(self.event, dict) else None

    @property
    def reason(self) -> str:
        return str(self.event.get("reason", "")) if isinstance(self.event, dict) else ""


_CLASSES: dict[str, type[ChannelEvent]] = {
    "notification": Notification,
    "revocation": Revocation,
    "gap": Gap,
}


def _float_or_none(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def parse_entry(stream_id: str, fields: Mapping[str, str], delivery_count: int = 1) -> ChannelEvent:
    """The typed event of one stream entry, or MalformedEntry naming what is wrong."""
    kind = fields.get("kind", "")
    if kind not in KINDS:
        raise MalformedEntry(f"entry {stream_id}: unknown kind {kind!r}")
    raw_event = fields.get("event", "null")
    try:
        event = orjson.loads(raw_event)
    except orjson.JSONDecodeError as error:
        raise MalformedEntry(f"entry {stream_id}: event is not JSON: {error}") from error
    try:
        received_ts = float(fields.get("received_ts") or 0.0)
    except ValueError as error:
        raise MalformedEntry(
            f"entry {stream_id}: received_ts {fields.get('received_ts')!r} is not a number"
        ) from error
    return _CLASSES[kind](
        kind=kind,  # type: ignore[arg-type]
        message_id=fields.get("message_id", ""),
        type=fields.get("type", ""),
        version=fields.get("version", ""),
        channel_id=fields.get("channel_id", ""),
        subscription_id=fields.get("subscription_id", ""),
        twitch_ts=fields.get("twitch_ts", ""),
        received_ts=received_ts,
        event=event,
        stream_id=stream_id,
        delivery_count=delivery_count,
    )


def entry_fields(event: ChannelEvent) -> dict[str, str]:
    """The stream fields of an event: the inverse of ``parse_entry`` (dead letters, tests)."""
    return {
        "kind": event.kind,
        "message_id": event.message_id,
        "type": event.type,
        "version": event.version,
        "channel_id": event.channel_id,
        "subscription_id": event.subscription_id,
        "twitch_ts": event.twitch_ts,
        "received_ts": repr(event.received_ts),
        "event": orjson.dumps(event.event).decode(),
    }
