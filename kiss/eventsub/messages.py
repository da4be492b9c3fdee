"""The EventSub WebSocket message model (twitch-eventsub.md §1.2), parsed with no I/O.

``parse_message`` turns one text frame into a typed message or raises MalformedMessage:
nothing else escapes it, whatever the input. Messages are named tuples: immutable like frozen
dataclasses, but several times cheaper to build, and the listener builds one per event.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

from kiss.errors import MalformedMessage
from kiss.eventsub import catalog
from kiss.eventsub.timestamps import parse_timestamp

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
