"""Stream entries as the bots read them (docs/architecture.md, "Redis streams"), built with no I/O.

An entry is a flat tuple in ``FIELDS`` order plus the keys it needs, cheap to build on the
hot path and handed as-is to the writer's script.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

import orjson

from kiss.errors import UnknownTopic
from kiss.eventsub import catalog
from kiss.eventsub.messages import Notification, Revocation, Subscription
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
    """A named tuple rather than a dataclass: built once per event, it must be cheap."""

    stream: str
    dedup_keys: tuple[str, ...]
    values: tuple[str, str, str, str, str, str, str, str, str]  # in FIELDS order

    @property
    def kind(self) -> str:
        return self.values[0]

    @property
    def message_id(self) -> str:
        return self.values[1]

    @property
    def channel_id(self) -> str:
        return self.values[4]

    def as_dict(self) -> dict[str, str]:
        return dict(zip(FIELDS, self.values, strict=True))


@lru_cache(maxsize=512)
def _event_id_field(type_: str, version: str) -> str | None:
    try:
        return catalog.lookup(type_, version).event_id_field
    except UnknownTopic:
        return None


def channel_of(subscription: Subscription, event: object) -> str | None:
    """The broadcaster a message belongs to: the condition's, else the event's."""
    channel = subscription.channel_id
    if channel is None and isinstance(event, dict):
        value = event.get("broadcaster_user_id")
        channel = value if isinstance(value, str) and value else None
    return channel


@dataclass(frozen=True, slots=True)
class _Route:
    channel: str
    stream: str
    id_field: str | None
    cacheable: bool  # False when the channel came from the event, not the condition


class Router:
    """Builds notification entries, remembering per subscription where its events go (a hub
    sees the same few thousand subscriptions over and over)."""

    def __init__(self, keys: Keys, capacity: int = 100_000) -> None:
        self.keys = keys
        self.capacity = capacity
        self._routes: dict[tuple[str, str, str], _Route] = {}

    def _route(self, sub: Subscription, event: object) -> _Route | None:
        channel = channel_of(sub, event)
        if channel is None:
            return None
        return _Route(
            channel,
            self.keys.channel_stream(channel),
            _event_id_field(sub.type, sub.version),
            sub.channel_id is not None,
        )

    def entry(self, message: Notification, received: float) -> Entry | None:
        """The entry of a notification, or None if it names no channel to route to."""
        sub = message.subscription
        event = message.event
        key = (sub.id, sub.type, sub.version)
        route = self._routes.get(key)
        if route is None:
            route = self._route(sub, event)
            if route is None:
                return None
            if route.cacheable:  # a subscription's condition never changes
                if len(self._routes) >= self.capacity:
                    self._routes.clear()
                self._routes[key] = route
        meta = message.metadata
        dedup: tuple[str, ...] = (self.keys.dedup_message(meta.message_id),)
        if route.id_field is not None and event is not None:
            event_id = event.get(route.id_field)
            if isinstance(event_id, str) and event_id:
                dedup = (dedup[0], self.keys.dedup_event(sub.type, event_id))
        body = event if event is not None else message.events
        return Entry(
            route.stream,
            dedup,
            (
                "notification",
                meta.message_id,
                sub.type,
                sub.version,
                route.channel,
                sub.id,
                meta.message_timestamp,
                repr(received),
                orjson.dumps(body).decode(),
            ),
        )


def notification_entry(keys: Keys, message: Notification, received: float) -> Entry | None:
    """The entry of one notification (the uncached form of ``Router.entry``)."""
    return Router(keys).entry(message, received)


def revocation_entry(keys: Keys, message: Revocation, received: float) -> Entry | None:
    sub = message.subscription
    channel = sub.channel_id
    if channel is None:
        return None
    meta = message.metadata
    return Entry(
        keys.channel_stream(channel),
        (keys.dedup_message(meta.message_id),),
        (
            "revocation",
            meta.message_id,
            sub.type,
            sub.version,
            channel,
            sub.id,
            meta.message_timestamp,
            f"{received:.6f}",
            orjson.dumps({"status": sub.status}).decode(),
        ),
    )


def gap_entry(keys: Keys, channel: str, gap: Gap, twitch_ts: str) -> Entry:
    """A marker telling the bots that events between gap.start and gap.end may be missing."""
    message_id = f"gap-{uuid.uuid4()}"
    return Entry(
        keys.channel_stream(channel),
        (keys.dedup_message(message_id),),
        (
            "gap",
            message_id,
            "",
            "",
            channel,
            "",
            twitch_ts,
            f"{gap.end:.6f}",
            orjson.dumps({"from": gap.start, "to": gap.end, "reason": gap.reason}).decode(),
        ),
    )
