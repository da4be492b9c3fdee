"""Message builders shared by the listener tests."""

from __future__ import annotations

import time
from typing import Any

import orjson

from kiss.eventsub.messages import Notification, Revocation, parse_message
from kiss.eventsub.timestamps import format_timestamp


def subscription(
    channel: str, type_: str = "channel.follow", version: str = "2", status: str = "enabled"
) -> dict[str, Any]:
    return {
        "id": f"sub-{channel}-{type_}",
        "status": status,
        "type": type_,
        "version": version,
        "cost": 0,
        "condition": {"broadcaster_user_id": channel, "moderator_user_id": channel},
        "transport": {"method": "websocket", "session_id": "S"},
        "created_at": format_timestamp(),
    }


def notification_frame(
    message_id: str,
    channel: str = "42",
    *,
    type_: str = "channel.follow",
    version: str = "2",
    event: dict[str, Any] | None = None,
    at: float | None = None,
) -> bytes:
    stamp = format_timestamp(int((at if at is not None else time.time()) * 1e9))
    frame = {
        "metadata": {
            "message_id": message_id,
            "message_type": "notification",
            "message_timestamp": stamp,
            "subscription_type": type_,
            "subscription_version": version,
        },
        "payload": {
            "subscription": subscription(channel, type_, version),
            "event": event if event is not None else {"user_id": "7", "n": message_id},
        },
    }
    return orjson.dumps(frame)


def notification(message_id: str, channel: str = "42", **options: Any) -> Notification:
    """The parsed form of ``notification_frame`` (same options)."""
    frame = notification_frame(message_id, channel, **options)
    message = parse_message(frame)
    assert isinstance(message, Notification)
    return message


def revocation(message_id: str, channel: str = "42", reason: str = "user_removed") -> Revocation:
    frame = {
        "metadata": {
            "message_id": message_id,
            "message_type": "revocation",
            "message_timestamp": format_timestamp(),
            "subscription_type": "channel.follow",
            "subscription_version": "2",
        },
        "payload": {"subscription": subscription(channel, status=reason)},
    }
    message = parse_message(orjson.dumps(frame))
    assert isinstance(message, Revocation)
    return message
