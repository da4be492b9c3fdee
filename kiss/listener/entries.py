"""Stream entries built from Twitch's messages, with no I/O (the entry itself, its fields and
kinds: ``kiss/contracts/stream_entry.py``).

``EntryBuilder.entry`` is the one way from a delivered notification to its entry, whichever
form the session machine delivered it in (``kiss/eventsub/messages.py``). The hot path's
``RawNotification`` becomes an entry in one pass, its raw event written to the stream exactly
as Twitch sent it; a topic whose channel the flat form does not name (a raid's, a user's),
or a channel id that is not one, takes the parsed form, whose rules decide and refuse.

Hostile input is refused, cheaply and with bounded memory: a type the catalog does not know
is never cached (nothing is kept per unknown type), a channel id that is not a Twitch user id
(``is_channel_id``) never names a stream; each refusal is counted by kind
(``kiss/listener/refusals.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import NamedTuple

import msgspec
import orjson

from kiss.contracts.stream_entry import (
    GAP,
    NOTIFICATION,
    REVOCATION,
    Entry,
    Kind,
    encode,
    gap_event,
    revocation_event,
)
from kiss.contracts.timestamps import epoch_text
from kiss.errors import MalformedMessage, UnknownTopic
from kiss.eventsub import catalog
from kiss.eventsub.messages import Notification, RawNotification, Revocation, is_channel_id
from kiss.eventsub.session import Gap
from kiss.eventsub.timestamps import format_epoch
from kiss.keys import Keys
from kiss.listener.refusals import REFUSALS, Refusals

# Builds an Entry from a ready tuple without a Python-level call: ``encode``'s one-pass form
# (the event already JSON, ``received`` already ``epoch_text``).
_new_entry = tuple.__new__


def channel_of(
    channel_fields: tuple[str, ...], condition: dict[str, object], event: object
) -> str | None:
    """The channel a message belongs to: its condition's (the topic's ``channel_fields``),
    else its event's broadcaster."""
    channel = next(
        (v for name in channel_fields if isinstance(v := condition.get(name), str) and v), None
    )
    if channel is None and isinstance(event, dict):
        value = event.get("broadcaster_user_id")
        channel = value if isinstance(value, str) and value else None
    return channel


class _Topic(NamedTuple):
    type: str
    version: str
    id_field: str | None  # the event's own id, deduplicated too
    id_prefix: str  # the event-id dedup key without the id
    event_id: Callable[[bytes], object] | None  # reads only that field of a raw event
    channel_fields: tuple[str, ...]  # catalog.channel_fields: where its channel is named
    by_broadcaster: bool  # its channel is broadcaster_user_id, the one RawNotification has


def _event_id_reader(field: str | None) -> Callable[[bytes], object] | None:
    if field is None:
        return None
    struct = msgspec.defstruct("EventId", [(field, object, None)])
    decode = msgspec.json.Decoder(struct).decode
    return lambda raw: getattr(decode(raw), field)


class EntryBuilder:
    """Builds notification entries. Nothing is kept per subscription or channel (a hub holds
    thousands, and computing a stream name costs less than looking it up); the few topics
    seen are kept, with their dedup rules."""

    def __init__(self, keys: Keys, refusals: Refusals = REFUSALS, where: str = "") -> None:
        self.keys = keys
        self.refusals = refusals
        self.where = where  # the slot, in refusal log lines
        self._topics: dict[str, _Topic] = {}  # catalog types only: bounded by the catalog
        self._message_prefix = keys.dedup_message("")
        self._stream_prefix = keys.channel_stream("")

    def _topic(self, type_: str, version: str) -> _Topic | None:
        """The topic's dedup rules; None for a type and version the catalog does not know
        (not kept: junk types must not grow this cache)."""
        topic = self._topics.get(type_)
        if topic is None or topic.version != version:
            try:
                known = catalog.lookup(type_, version)
            except UnknownTopic:
                return None
            field, fields = known.event_id_field, known.channel_fields
            topic = _Topic(
                type_, version, field, self.keys.dedup_event(type_, ""), _event_id_reader(field),
                fields, fields[:1] == ("broadcaster_user_id",),
            )  # fmt: skip
            self._topics[type_] = topic
        return topic

    def _refuse(self, kind: str, detail: str) -> None:
        self.refusals.refuse(kind, detail, self.where)

    def entry(self, message: Notification | RawNotification, received: str) -> Entry | None:
        """The entry of a delivered notification, ``received`` (``epoch_text``) its receive
        time; None (the refusal counted) if its type is unknown, it names no channel, or one
        that is not a Twitch user id, or its event cannot be written."""
        if isinstance(message, Notification):
            return self._parsed(message, received)
        # The hot path, in one pass; whatever it does not settle itself (an unknown type, a
        # raid's channel, a user's, junk...) is settled by the parsed form's rules below.
        topic = self._topics.get(message.type)
        if topic is None or topic.version != message.version:
            topic = self._topic(message.type, message.version)
        channel = message.broadcaster_user_id
        if topic is not None and topic.by_broadcaster and is_channel_id(channel):
            assert type(channel) is str  # is_channel_id says so; for the type checker
            raw = message.event
            dedup = ""
            try:
                event_id = topic.event_id(raw) if topic.event_id is not None else None
            except (msgspec.DecodeError, RecursionError):
                pass
            else:
                if type(event_id) is str and event_id:
                    dedup = topic.id_prefix + event_id
                return _new_entry(
                    Entry,
                    (
                        self._stream_prefix + channel,
                        dedup or self._message_prefix + message.message_id,
                        NOTIFICATION,
                        message.message_id,
                        topic.type,
                        topic.version,
                        channel,
                        message.subscription_id,
                        message.message_timestamp,
                        received,
                        raw,
                    ),
                )
        try:
            parsed = message.parsed()
        except MalformedMessage as error:  # what only the full parse sees (say, too deep)
            self._refuse(error.kind, f"malformed frame: {error}")
            return None
        return self._parsed(parsed, received)

    def _parsed(self, message: Notification, received: str) -> Entry | None:
        sub = message.subscription
        event = message.event
        topic = self._topic(sub.type, sub.version)
        if topic is None:
            self._refuse("unknown_type", f"type {sub.type[:60]!r} version {sub.version[:20]!r}")
            return None
        channel = channel_of(topic.channel_fields, sub.condition, event)
        if channel is None:
            self._refuse("no_channel", f"{sub.type} v{sub.version} names no broadcaster")
            return None
        if not is_channel_id(channel):
            self._refuse("bad_channel_id", f"channel id {channel[:40]!r} is not decimal digits")
            return None
        # One key per entry: an event's own id is unique to it, so it also catches the same
        # message delivered twice; types without one fall back on the message id.
        dedup = ""
        if topic.id_field is not None and isinstance(event, dict):
            event_id = event.get(topic.id_field)
            if isinstance(event_id, str) and event_id:
                dedup = topic.id_prefix + event_id
        meta = message.metadata
        try:
            body = orjson.dumps(event if event is not None else message.events)
        except orjson.JSONEncodeError as error:  # nested deeper than orjson writes (254)
            self._refuse("too_deep", f"the event cannot be written back: {error}")
            return None
        return _new_entry(
            Entry,
            (
                self._stream_prefix + channel,
                dedup or self._message_prefix + meta.message_id,
                NOTIFICATION,
                meta.message_id,
                topic.type,
                topic.version,
                channel,
                sub.id,
                meta.message_timestamp,
                received,
                body,
            ),
        )


def notification_entry(keys: Keys, message: Notification, received: float) -> Entry | None:
    """The entry of one notification received at ``received`` (epoch seconds)."""
    return EntryBuilder(keys).entry(message, epoch_text(received))


def _other_entry(
    keys: Keys,
    kind: Kind,
    message_id: str,
    type_: str,
    version: str,
    channel: str,
    sub_id: str,
    twitch_ts: str,
    received_ts: float,
    body: object,
) -> Entry:
    return encode(
        keys.channel_stream(channel), keys.dedup_message(message_id), kind, message_id, type_,
        version, channel, sub_id, twitch_ts, received_ts, body,
    )  # fmt: skip


def revocation_entry(keys: Keys, message: Revocation, received: float) -> Entry | None:
    sub = message.subscription
    channel = sub.channel_id
    if not is_channel_id(channel):
        return None
    assert channel is not None  # is_channel_id says so; for the type checker
    meta = message.metadata
    return _other_entry(
        keys,
        REVOCATION,
        meta.message_id,
        sub.type,
        sub.version,
        channel,
        sub.id,
        meta.message_timestamp,
        received,
        revocation_event(sub.status),
    )


def gap_entry(keys: Keys, channel: str, gap: Gap, at: float) -> Entry:
    """A marker telling the bots that events between gap.start and gap.end may be missing,
    written at ``at`` (epoch seconds; its ``twitch_ts`` in Twitch's form)."""
    return _other_entry(
        keys,
        GAP,
        f"gap-{uuid.uuid4()}",
        "",
        "",
        channel,
        "",
        format_epoch(at),
        gap.end,
        gap_event(gap.start, gap.end, gap.reason),
    )
