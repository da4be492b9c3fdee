"""EventSub WebSocket frames as text, built the way Twitch writes them (twitch-eventsub.md §1.2).

Notifications are the hot path: ``NotificationTemplate`` serializes the subscription and
event once and splices a fresh message id, timestamp and event id into each frame.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from kiss.eventsub import catalog
from kiss.simulator.twitch.model import JSON, Session, Subscription

EVENT_ID_MARK = "\u0000kiss-event-id\u0000"


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def notification_payload(sub: Subscription, event: Any) -> JSON:
    """A notification's payload: ``event``, or ``events`` (``[{id, data}]``) for batched types."""
    key = "events" if catalog.lookup(sub.type, sub.version).batched else "event"
    return {"subscription": sub.notification_json(), key: event}


def _metadata(message_type: str, timestamp: str, sub: Subscription | None = None) -> JSON:
    metadata: JSON = {
        "message_id": str(uuid.uuid4()),
        "message_type": message_type,
        "message_timestamp": timestamp,
    }
    if sub is not None:
        metadata["subscription_type"] = sub.type
        metadata["subscription_version"] = sub.version
    return metadata


def welcome(session: Session, timestamp: str) -> str:
    return _dumps(
        {
            "metadata": _metadata("session_welcome", timestamp),
            "payload": {
                "session": {
                    "id": session.id,
                    "status": "connected",
                    "connected_at": session.connected_at,
                    "keepalive_timeout_seconds": session.keepalive,
                    "reconnect_url": None,
                    "recovery_url": None,
                }
            },
        }
    )


def keepalive(timestamp: str) -> str:
    return _dumps({"metadata": _metadata("session_keepalive", timestamp), "payload": {}})


def reconnect(session: Session, reconnect_url: str, timestamp: str) -> str:
    return _dumps(
        {
            "metadata": _metadata("session_reconnect", timestamp),
            "payload": {
                "session": {
                    "id": session.id,
                    "status": "reconnecting",
                    "connected_at": session.connected_at,
                    "keepalive_timeout_seconds": None,
                    "reconnect_url": reconnect_url,
                    "recovery_url": None,
                }
            },
        }
    )


def revocation(sub: Subscription, timestamp: str) -> str:
    return _dumps(
        {
            "metadata": _metadata("revocation", timestamp, sub),
            "payload": {"subscription": sub.notification_json()},
        }
    )


class NotificationTemplate:
    """One subscription + one event shape, rendered many times with fresh ids."""

    __slots__ = ("_head", "_parts")

    def __init__(self, sub: Subscription, event: JSON, event_id_field: str | None = None) -> None:
        if event_id_field is not None and event_id_field in event:
            event = {**event, event_id_field: EVENT_ID_MARK}
        payload = _dumps(notification_payload(sub, event))
        self._parts = payload.split(_dumps(EVENT_ID_MARK)[1:-1])
        tail = _dumps({"subscription_type": sub.type, "subscription_version": sub.version})
        self._head = (
            '","message_type":"notification","message_timestamp":"',
            ('",' + tail[1:-1] + '},"payload":'),
        )

    def render(self, message_id: str, timestamp: str, event_id: str = "") -> str:
        middle, tail = self._head
        payload = self._parts[0] if len(self._parts) == 1 else event_id.join(self._parts)
        return (
            '{"metadata":{"message_id":"' + message_id + middle + timestamp + tail + payload + "}"
        )


def notification(sub: Subscription, event: JSON, timestamp: str) -> tuple[str, str]:
    """One notification frame with the exact event given; (message_id, frame)."""
    message_id = str(uuid.uuid4())
    return message_id, NotificationTemplate(sub, event).render(message_id, timestamp)
