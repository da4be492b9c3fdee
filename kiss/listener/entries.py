"""Stream entries built from Twitch's messages, with no I/O (the entry itself, its fields and
kinds: ``kiss/contracts/stream_entry.py``).

``EntryBuilder.notification`` is the listener's hot path: a frame in Twitch's exact notification
shape becomes an entry in one pass. msgspec decodes the envelope into typed structs and
keeps the event as raw JSON, written to the stream exactly as Twitch sent it: building the
event's Python objects only to serialise them again cost 2 of the listener's 12 µs per event.
Anything else (other message types, the batched ``events`` form, any odd shape) gives None,
and the caller parses the frame with ``parse_message``, which names the problem if any.

Hostile input is refused, cheaply and with bounded memory: a type the catalog does not know
is never cached (nothing is kept per unknown type), a channel id that is not a Twitch user id
(``is_channel_id``) never names a stream, an impossible timestamp never passes; the parsed
path counts each refusal by kind (``kiss/listener/refusals.py``).
"""

from __future__ import annotations

import re
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
from kiss.errors import UnknownTopic
from kiss.eventsub import catalog
from kiss.eventsub.messages import Notification, RawFrame, Revocation, is_channel_id
from kiss.eventsub.session import Gap
from kiss.eventsub.timestamps import format_epoch, is_real_date
from kiss.keys import Keys
from kiss.listener.refusals import REFUSALS, Refusals

# Builds an Entry from a ready tuple without a Python-level call: the hot path's one-pass
# form of ``encode`` (the event already JSON, ``received`` already ``epoch_text``).
_new_entry = tuple.__new__

# Twitch's form, with each field in its range; whether the day exists is checked once a day.
_TWITCH_TIMESTAMP = re.compile(
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
    r"T(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d{1,9})?Z"
)


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


# gc=False: these hold no references back, and the collector need not track one per frame.
class _Metadata(msgspec.Struct, gc=False):
    message_id: str
    message_type: str
    message_timestamp: str
    subscription_type: str
    subscription_version: str


class _Condition(msgspec.Struct, gc=False):
    broadcaster_user_id: object = None  # conditions without one take the parsed path


class _Transport(msgspec.Struct, gc=False):
    """Checked to be an object; nothing in it is needed here."""


class _Subscription(msgspec.Struct, gc=False):
    id: str
    status: str
    type: str
    version: str
    condition: _Condition
    transport: _Transport
    created_at: str
    cost: int = 0


class _Payload(msgspec.Struct, gc=False):
    subscription: _Subscription
    event: msgspec.Raw = msgspec.Raw()
    events: msgspec.Raw = msgspec.Raw()  # the batched form: not the hot path's


class _Notification(msgspec.Struct, gc=False):
    metadata: _Metadata
    payload: _Payload


_decode_notification = msgspec.json.Decoder(_Notification).decode


class _Topic(NamedTuple):
    type: str
    version: str
    id_field: str | None  # the event's own id, deduplicated too
    id_prefix: str  # the event-id dedup key without the id
    event_id: Callable[[bytes], object] | None  # reads only that field of a raw event
    channel_fields: tuple[str, ...]  # catalog.channel_fields: where its channel is named
    by_broadcaster: bool  # its channel is broadcaster_user_id, the one the fast lane decodes


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
        self._real_day = ""  # the last timestamp date checked to exist

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

    def _real_timestamp(self, stamp: str) -> bool:
        """In Twitch's form, each field in range, on a day that exists (checked once a day)."""
        if not _TWITCH_TIMESTAMP.fullmatch(stamp):
            return False
        day = stamp[:10]
        if day != self._real_day:
            if not is_real_date(int(stamp[:4]), int(stamp[5:7]), int(stamp[8:10])):
                return False
            self._real_day = day
        return True

    def _refuse(self, kind: str, detail: str) -> None:
        self.refusals.refuse(kind, detail, self.where)

    def _entry(
        self,
        topic: _Topic,
        channel: str,
        message_id: str,
        sub_id: str,
        timestamp: str,
        received: float,
        event: object,
        body: object,
    ) -> Entry:
        # One key per entry: an event's own id is unique to it, so it also catches the same
        # message delivered twice; types without one fall back on the message id.
        dedup = ""
        if topic.id_field is not None and isinstance(event, dict):
            event_id = event.get(topic.id_field)
            if isinstance(event_id, str) and event_id:
                dedup = topic.id_prefix + event_id
        if not dedup:
            dedup = self._message_prefix + message_id
        return encode(
            self._stream_prefix + channel, dedup, NOTIFICATION, message_id, topic.type,
            topic.version, channel, sub_id, timestamp, received, body,
        )  # fmt: skip

    def notification(self, frame: RawFrame, received: str) -> Entry | None:
        """The entry of a frame in Twitch's exact single-event notification shape, checked as
        strictly as ``parse_message`` checks it; None for anything else (see the module doc)."""
        try:
            message = _decode_notification(frame)
        except (msgspec.DecodeError, RecursionError):  # not JSON, not the shape, too deep
            return None
        meta, payload = message.metadata, message.payload
        raw = bytes(payload.event)
        if (
            meta.message_type != "notification"
            or not meta.message_id
            or raw[:1] != b"{"
            or payload.events
            or not self._real_timestamp(meta.message_timestamp)
        ):
            return None
        sub = payload.subscription
        topic = self._topics.get(sub.type)
        if topic is None or topic.version != sub.version:
            topic = self._topic(sub.type, sub.version)
            if topic is None:
                return None  # unknown: the parsed path refuses it
        channel = sub.condition.broadcaster_user_id
        if not topic.by_broadcaster or not is_channel_id(channel):
            return None  # a raid's, a user's, junk...: the parsed path routes or refuses it
        assert type(channel) is str  # is_channel_id says so; for the type checker
        dedup = ""
        if topic.event_id is not None:
            try:
                event_id = topic.event_id(raw)
            except (msgspec.DecodeError, RecursionError):
                return None
            if type(event_id) is str and event_id:
                dedup = topic.id_prefix + event_id
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
                raw,
            ),
        )

    def entry(self, message: Notification, received: float) -> Entry | None:
        """The entry of a parsed notification; None (the refusal counted) if its type is unknown,
        it names no channel, or one that is not a Twitch user id."""
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
        meta = message.metadata
        body = event if event is not None else message.events
        try:
            return self._entry(
                topic, channel, meta.message_id, sub.id, meta.message_timestamp, received,
                event, body,
            )  # fmt: skip
        except orjson.JSONEncodeError as error:  # nested deeper than orjson writes (254)
            self._refuse("too_deep", f"the event cannot be written back: {error}")
            return None


def notification_entry(keys: Keys, message: Notification, received: float) -> Entry | None:
    """The entry of one notification."""
    return EntryBuilder(keys).entry(message, received)


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
