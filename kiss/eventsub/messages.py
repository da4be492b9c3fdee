"""The EventSub WebSocket message model (twitch-eventsub.md §1.2), decoded with no I/O.

A frame has two decoders, both here. ``NotificationDecoder.decode`` is the hot path's: a
notification in Twitch's exact single-event shape becomes a ``RawNotification`` in one
msgspec pass, its event kept as the raw JSON Twitch sent (building the event's Python objects
only to serialise them again cost 2 of the listener's 12 µs per event); anything else gives
None. ``parse_message`` reads every message type and every shape, and turns a frame into a
typed message or raises MalformedMessage naming the problem: nothing else escapes it,
whatever the input. The session machine tries the first, then the second.

Parsed messages are named tuples: immutable like frozen dataclasses, but several times
cheaper to build.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import msgspec
import orjson

from kiss.errors import MalformedMessage
from kiss.eventsub import catalog
from kiss.eventsub.timestamps import is_real_date, parse_timestamp

JSON = dict[str, Any]


RawFrame = str | bytes | bytearray | memoryview
"""A frame's text as it came off the socket; orjson reads any of these without copying."""


class Metadata(NamedTuple):
    message_id: str
    message_type: str
    message_timestamp: str
    subscription_type: str | None = None
    subscription_version: str | None = None

    @property
    def timestamp(self) -> float:
        """Epoch seconds of ``message_timestamp`` (validated at parse time)."""
        return parse_timestamp(self.message_timestamp)


class Session(NamedTuple):
    id: str
    status: str
    connected_at: str
    keepalive_timeout_seconds: int | None
    reconnect_url: str | None
    recovery_url: str | None = None


class Subscription(NamedTuple):
    id: str
    status: str
    type: str
    version: str
    cost: int
    condition: JSON
    transport: JSON
    created_at: str

    @property
    def channel_id(self) -> str | None:
        """The channel stream its events go to (the topic's rule, ``catalog.channel_of``)."""
        return catalog.channel_of(self.type, self.version, self.condition)


class Welcome(NamedTuple):
    metadata: Metadata
    session: Session


class Keepalive(NamedTuple):
    metadata: Metadata


class Notification(NamedTuple):
    metadata: Metadata
    subscription: Subscription
    event: JSON | None
    events: list[JSON] | None = None  # batched types carry events:[{id,data}]


class Reconnect(NamedTuple):
    metadata: Metadata
    session: Session


class Revocation(NamedTuple):
    metadata: Metadata
    subscription: Subscription


Message = Welcome | Keepalive | Notification | Reconnect | Revocation

MAX_CHANNEL_ID_LENGTH = 20  # Twitch user ids are decimal, 10 digits today; room to grow


def is_channel_id(value: object) -> bool:
    """A Twitch user id: decimal digits (ASCII only), at most ``MAX_CHANNEL_ID_LENGTH``. Every
    channel id checked here before it names a stream key: nothing else reaches Redis."""
    return (
        type(value) is str
        and 0 < len(value) <= MAX_CHANNEL_ID_LENGTH
        and value.isascii()
        and value.isdigit()
    )


def _object(parent: JSON, key: str, where: str) -> JSON:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise MalformedMessage(f"{where}.{key} must be an object, got {type(value).__name__}")
    return value


def _string(parent: JSON, key: str, where: str) -> str:
    value = parent.get(key)
    if not isinstance(value, str):
        raise MalformedMessage(f"{where}.{key} must be a string, got {type(value).__name__}")
    return value


def _optional_string(parent: JSON, key: str, where: str) -> str | None:
    value = parent.get(key)
    if value is not None and not isinstance(value, str):
        raise MalformedMessage(f"{where}.{key} must be a string or null")
    return value


def _optional_int(parent: JSON, key: str, where: str) -> int | None:
    value = parent.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise MalformedMessage(f"{where}.{key} must be an integer or null")
    return value


def _metadata(raw: JSON) -> Metadata:
    meta = _object(raw, "metadata", "message")
    metadata = Metadata(
        message_id=_string(meta, "message_id", "metadata"),
        message_type=_string(meta, "message_type", "metadata"),
        message_timestamp=_string(meta, "message_timestamp", "metadata"),
        subscription_type=_optional_string(meta, "subscription_type", "metadata"),
        subscription_version=_optional_string(meta, "subscription_version", "metadata"),
    )
    if not metadata.message_id:
        raise MalformedMessage("metadata.message_id is empty")
    parse_timestamp(metadata.message_timestamp)
    return metadata


def _session(payload: JSON) -> Session:
    session = _object(payload, "session", "payload")
    return Session(
        id=_string(session, "id", "session"),
        status=_string(session, "status", "session"),
        connected_at=_string(session, "connected_at", "session"),
        keepalive_timeout_seconds=_optional_int(session, "keepalive_timeout_seconds", "session"),
        reconnect_url=_optional_string(session, "reconnect_url", "session"),
        recovery_url=_optional_string(session, "recovery_url", "session"),
    )


def parse_subscription(sub: JSON) -> Subscription:
    """A subscription object as Twitch sends it (in messages and in Helix answers)."""
    cost = sub.get("cost", 0)
    if not isinstance(cost, int) or isinstance(cost, bool):
        raise MalformedMessage("subscription.cost must be an integer")
    return Subscription(
        id=_string(sub, "id", "subscription"),
        status=_string(sub, "status", "subscription"),
        type=_string(sub, "type", "subscription"),
        version=_string(sub, "version", "subscription"),
        cost=cost,
        condition=_object(sub, "condition", "subscription"),
        transport=_object(sub, "transport", "subscription"),
        created_at=_string(sub, "created_at", "subscription"),
    )


def _notification(metadata: Metadata, payload: JSON) -> Notification:
    subscription = parse_subscription(_object(payload, "subscription", "payload"))
    event = payload.get("event")
    events = payload.get("events")
    if event is None and events is None:
        raise MalformedMessage("notification payload has neither event nor events")
    if event is not None and not isinstance(event, dict):
        raise MalformedMessage("payload.event must be an object")
    if events is not None and not (
        isinstance(events, list) and all(isinstance(item, dict) for item in events)
    ):
        raise MalformedMessage("payload.events must be a list of objects")
    if metadata.subscription_type is None or metadata.subscription_version is None:
        raise MalformedMessage("notification metadata lacks subscription_type/version")
    return Notification(metadata, subscription, event, events)


def parse_message(frame: RawFrame) -> Message:
    """One WebSocket text frame -> a typed message; MalformedMessage on anything else."""
    try:
        raw = orjson.loads(frame)
    except (orjson.JSONDecodeError, TypeError) as error:
        problem = "too_deep" if "depth limit" in str(error) else "not_json"
        raise MalformedMessage(f"frame is not JSON: {error}", problem) from None
    if not isinstance(raw, dict):
        raise MalformedMessage(
            f"frame must be a JSON object, got {type(raw).__name__}", "not_object"
        )
    metadata = _metadata(raw)
    payload = _object(raw, "payload", "message")
    kind = metadata.message_type
    if kind == "notification":
        return _notification(metadata, payload)
    if kind == "session_keepalive":
        return Keepalive(metadata)
    if kind == "session_welcome":
        return Welcome(metadata, _session(payload))
    if kind == "session_reconnect":
        session = _session(payload)
        if not session.reconnect_url:
            raise MalformedMessage("session_reconnect without reconnect_url")
        return Reconnect(metadata, session)
    if kind == "revocation":
        return Revocation(metadata, parse_subscription(_object(payload, "subscription", "payload")))
    raise MalformedMessage(f"unknown message_type {kind!r}")


def parse_notification(frame: RawFrame) -> Notification:
    """``parse_message`` of a frame that must be a notification; MalformedMessage otherwise."""
    message = parse_message(frame)
    if not isinstance(message, Notification):
        raise MalformedMessage(f"expected a notification, got {message.metadata.message_type}")
    return message


# -- the hot path's form: a notification in Twitch's exact shape, its event raw ---------------

# Twitch's form, with each field in its range; whether the day exists is checked once a day.
_TWITCH_TIMESTAMP = re.compile(
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])"
    r"T(?:[01]\d|2[0-3]):[0-5]\d:(?:[0-5]\d|60)(?:\.\d{1,9})?Z"
)


# What msgspec decodes, as strictly as parse_message checks it. gc=False: these hold no
# references back, and the collector need not track one per frame.
class _Metadata(msgspec.Struct, gc=False):
    message_id: str
    message_type: str
    message_timestamp: str
    subscription_type: str
    subscription_version: str


class _Condition(msgspec.Struct, gc=False):
    broadcaster_user_id: object = None  # the one channel field the hot path reads


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
    events: msgspec.Raw = msgspec.Raw()  # the batched form: parse_message's


class _Frame(msgspec.Struct, gc=False):
    metadata: _Metadata
    payload: _Payload


_decode_frame = msgspec.json.Decoder(_Frame).decode


class RawNotification(msgspec.Struct, frozen=True, gc=False):
    """A notification in Twitch's single-event shape, flat: what a stream entry needs, the
    event as the JSON bytes Twitch sent, and the frame, for ``parsed``."""

    message_id: str
    message_timestamp: str  # in Twitch's form (checked), UTC
    subscription_id: str
    type: str
    version: str
    broadcaster_user_id: object  # the condition's, unchecked: None if it names none
    event: bytes  # a JSON object
    frame: RawFrame

    def parsed(self) -> Notification:
        """The same message parsed in full (``parse_notification``), for what the flat form
        does not carry: the whole condition, the event's values."""
        return parse_notification(self.frame)


class NotificationDecoder:
    """The hot path's decoder (the module doc). Keeps only the last date checked to exist."""

    def __init__(self) -> None:
        self._real_day = ""

    def decode(self, frame: RawFrame) -> RawNotification | None:
        """The frame's ``RawNotification``, if it is a notification in Twitch's single-event
        shape that parse_message would accept; None for anything else."""
        try:
            message = _decode_frame(frame)
        except (msgspec.DecodeError, RecursionError):  # not JSON, not the shape, too deep
            return None
        meta, payload = message.metadata, message.payload
        event = bytes(payload.event)
        stamp = meta.message_timestamp
        if (
            meta.message_type != "notification"
            or not meta.message_id
            or event[:1] != b"{"
            or payload.events
            or not _TWITCH_TIMESTAMP.fullmatch(stamp)  # and on a day that exists:
            or (stamp[:10] != self._real_day and not self._real_date(stamp))
        ):
            return None
        sub = payload.subscription
        return RawNotification(
            meta.message_id, stamp, sub.id, sub.type, sub.version,
            sub.condition.broadcaster_user_id, event, frame,
        )  # fmt: skip

    def _real_date(self, stamp: str) -> bool:
        """Whether the date of a timestamp in Twitch's form exists (remembered if it does)."""
        if not is_real_date(int(stamp[:4]), int(stamp[5:7]), int(stamp[8:10])):
            return False
        self._real_day = stamp[:10]
        return True
