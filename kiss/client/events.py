"""The typed events a bot receives, parsed from its channel stream's entries (no I/O).

An entry's fields are the listener's contract (``kiss/contracts/stream_entry.py``, decoded
there): ``kind`` says which type it becomes: ``NotificationEvent``, ``RevocationEvent`` or
``GapEvent``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kiss.client.errors import MalformedEntry
from kiss.contracts.stream_entry import (
    GAP,
    GAP_FROM,
    GAP_REASON,
    GAP_TO,
    NOTIFICATION,
    REVOCATION,
    REVOCATION_STATUS,
    EntryError,
    Kind,
    decode,
    encode,
)


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
class NotificationEvent(ChannelEvent):
    """A Twitch notification: ``event`` is its event object (or list, for batched types)."""


@dataclass(frozen=True, slots=True)
class RevocationEvent(ChannelEvent):
    """Twitch revoked the subscription ``subscription_id``; no more events of ``type``."""

    @property
    def reason(self) -> str:
        return str(self.event.get(REVOCATION_STATUS, "")) if isinstance(self.event, dict) else ""


@dataclass(frozen=True, slots=True)
class GapEvent(ChannelEvent):
    """The listener lost its session between ``gap_from`` and ``gap_to``: events may be missing."""

    @property
    def gap_from(self) -> float | None:
        return _float_or_none(self.event.get(GAP_FROM)) if isinstance(self.event, dict) else None

    @property
    def gap_to(self) -> float | None:
        return _float_or_none(self.event.get(GAP_TO)) if isinstance(self.event, dict) else None

    @property
    def reason(self) -> str:
        return str(self.event.get(GAP_REASON, "")) if isinstance(self.event, dict) else ""


# The names these had first, which docs and bots use (they read as the protocol package's
# kiss.eventsub.messages.Notification and kiss.eventsub.session.Gap: prefer the new ones).
Notification = NotificationEvent
Revocation = RevocationEvent
Gap = GapEvent

_CLASSES: dict[str, type[ChannelEvent]] = {
    NOTIFICATION: NotificationEvent,
    REVOCATION: RevocationEvent,
    GAP: GapEvent,
}


def _float_or_none(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def parse_entry(stream_id: str, fields: Mapping[str, str], delivery_count: int = 1) -> ChannelEvent:
    """The typed event of one stream entry, or MalformedEntry naming what is wrong."""
    try:
        values = decode(fields)
    except EntryError as error:
        raise MalformedEntry(f"entry {stream_id}: {error}") from error
    return _CLASSES[values.kind](*values, stream_id=stream_id, delivery_count=delivery_count)


def entry_fields(event: ChannelEvent) -> dict[str, str]:
    """The stream fields of an event: the inverse of ``parse_entry`` (dead letters, tests)."""
    entry = encode(
        "", "", event.kind, event.message_id, event.type, event.version, event.channel_id,
        event.subscription_id, event.twitch_ts, event.received_ts, event.event,
    )  # fmt: skip
    return {
        name: value.decode() if isinstance(value, bytes) else value
        for name, value in entry.fields().items()
    }
