"""Stream entries as the bots read them (docs/architecture.md, "Redis streams"), built with no I/O.

An entry is one flat tuple: the stream, its dedup key, then the fields in ``FIELDS`` order,
the event's JSON last. It is nearly the row the writer's script reads (the event travels
beside the rows, unescaped), so a batch is packed in one call.

``Router.notification`` is the listener's hot path: a frame in Twitch's exact notification
shape becomes an entry in one pass. msgspec decodes the envelope into typed structs and
keeps the event as raw JSON, written to the stream exactly as Twitch sent it: building the
event's Python objects only to serialise them again cost 2 of the listener's 12 µs per event.
Anything else (other message types, the batched ``events`` form, any odd shape) gives None,
and the caller parses the frame with ``parse_message``, which names the problem if any.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

import msgspec
import orjson

from kiss.errors import UnknownTopic
from kiss.eventsub import catalog
from kiss.eventsub.messages import Notification, RawFrame, Revocation
from kiss.eventsub.session import Gap
from kiss.keys import Keys

FIELDS = (
    "kind",
    "message_id",
    "type",
    "version",
    "channel_id",
    "subscription_id",
    "twitch_ts",
    "received_ts",
    "event",
)


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
    twitch_ts: str
    received_ts: str
    event: bytes  # JSON, as Twitch sent it where it can be

    def as_dict(self) -> dict[str, str | bytes]:
        return dict(zip(FIELDS, self[2:], strict=True))


_new_entry = tuple.__new__  # builds an Entry from a ready tuple without a Python-level call

_TWITCH_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z")


@lru_cache(maxsize=512)
def _event_id_field(type_: str, version: str) -> str | None:
    try:
        return catalog.lookup(type_, version).event_id_field
    except UnknownTopic:
        return None


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


class Router:
    """Builds notification entries. Nothing is kept per subscription or channel (a hub holds
    thousands, and computing a stream name costs less than looking it up); the few topics
    seen are kept, with their dedup rules."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys
        self._topics: dict[str, _Topic] = {}
        self._message_prefix = keys.dedup_message("")
        self._stream_prefix = keys.channel_stream("")

    def _topic(self, type_: str, version: str) -> _Topic:
        topic = self._topics.get(type_)
        if topic is None or topic.version != version:
            field = _event_id_field(type_, version)
            fields = catalog.channel_fields(type_, version)
            topic = _Topic(
                type_, version, field, self.keys.dedup_event(type_, ""), _event_id_reader(field),
                fields, fields[:1] == ("broadcaster_user_id",),
            )  # fmt: skip
            self._topics[type_] = topic
        return topic

    def _entry(
        self,
        topic: _Topic,
        channel: str,
        message_id: str,
        sub_id: str,
        timestamp: str,
        received: str,
        event: object,
        body: bytes,
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
        return _new_entry(
            Entry,
            (
                self._stream_prefix + channel,
                dedup,
                "notification",
                message_id,
                topic.type,
                topic.version,
                channel,
                sub_id,
                timestamp,
                received,
                body,
            ),
        )

    def notification(self, frame: RawFrame, received: str) -> Entry | None:
        """The entry of a frame in Twitch's exact single-event notification shape, checked as
        strictly as ``parse_message`` checks it; None for anything else (see the module doc)."""
        try:
            message = _decode_notification(frame)
        except msgspec.DecodeError:  # not JSON, or not a notification's shape
            return None
        meta, payload = message.metadata, message.payload
        raw = bytes(payload.event)
        if (
            meta.message_type != "notification"
            or not meta.message_id
            or raw[:1] != b"{"
            or payload.events
            or not _TWITCH_TIMESTAMP.fullmatch(meta.message_timestamp)
        ):
            return None
        sub = payload.subscription
        topic = self._topics.get(sub.type)
        if topic is None or topic.version != sub.version:
            topic = self._topic(sub.type, sub.version)
        channel = sub.condition.broadcaster_user_id
        if not topic.by_broadcaster or type(channel) is not str or not channel:
            return None  # a raid's, a user's...: routed by the parsed path (``entry``)
        dedup = ""
        if topic.event_id is not None:
            try:
                event_id = topic.event_id(raw)
            except msgspec.DecodeError:
                return None
            if type(event_id) is str and event_id:
                dedup = topic.id_prefix + event_id
        return _new_entry(
            Entry,
            (
                self._stream_prefix + channel,
                dedup or self._message_prefix + meta.message_id,
                "notification",
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
        """The entry of a parsed notification, or None if it names no channel to route to."""
        sub = message.subscription
        event = message.event
        topic = self._topic(sub.type, sub.version)
        channel = channel_of(topic.channel_fields, sub.condition, event)
        if channel is None:
            return None
        meta = message.metadata
        body = event if event is not None else message.events
        return self._entry(
            topic, channel, meta.message_id, sub.id, meta.message_timestamp, repr(received),
            event, orjson.dumps(body),
        )  # fmt: skip


def notification_entry(keys: Keys, message: Notification, received: float) -> Entry | None:
    """The entry of one notification."""
    return Router(keys).entry(message, received)


def _other_entry(
    keys: Keys,
    kind: str,
    message_id: str,
    type_: str,
    version: str,
    channel: str,
    sub_id: str,
    twitch_ts: str,
    received_ts: str,
    body: object,
) -> Entry:
    return Entry(
        keys.channel_stream(channel),
        keys.dedup_message(message_id),
        kind,
        message_id,
        type_,
        version,
        channel,
        sub_id,
        twitch_ts,
        received_ts,
        orjson.dumps(body),
    )


def revocation_entry(keys: Keys, message: Revocation, received: float) -> Entry | None:
    sub = message.subscription
    channel = sub.channel_id
    if channel is None:
        return None
    meta = message.metadata
    return _other_entry(
        keys,
        "revocation",
        meta.message_id,
        sub.type,
        sub.version,
        channel,
        sub.id,
        meta.message_timestamp,
        f"{received:.6f}",
        {"status": sub.status},
    )


def gap_entry(keys: Keys, channel: str, gap: Gap, twitch_ts: str) -> Entry:
    """A marker telling the bots that events between gap.start and gap.end may be missing."""
    return _other_entry(
        keys,
        "gap",
        f"gap-{uuid.uuid4()}",
        "",
        "",
        channel,
        "",
        twitch_ts,
        f"{gap.end:.6f}",
        {"from": gap.start, "to": gap.end, "reason": gap.reason},
    )
