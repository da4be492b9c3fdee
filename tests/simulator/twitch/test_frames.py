"""Frames as Twitch writes them; templates match the plain builder."""

from __future__ import annotations

import orjson

from kiss.eventsub.messages import Notification, Reconnect, Revocation, Welcome, parse_message
from kiss.simulator.twitch import frames
from kiss.simulator.twitch.model import Session, Subscription

TS = "2024-01-01T00:00:00.123456789Z"


def sub() -> Subscription:
    return Subscription(
        "id-1",
        "channel.chat.message",
        "1",
        {"broadcaster_user_id": "1", "user_id": "2"},
        "websocket",
        "c",
        TS,
        0,
        session_id="sess",
        disconnected_at=TS,
    )


def test_session_messages_parse() -> None:
    session = Session("sess", 30, TS, 0.0)
    welcome = parse_message(frames.welcome(session, TS))
    assert isinstance(welcome, Welcome) and welcome.session.keepalive_timeout_seconds == 30
    assert orjson.loads(frames.welcome(session, TS))["payload"]["session"]["recovery_url"] is None
    reconnect = parse_message(frames.reconnect(session, "ws://x/ws?reconnect_id=1", TS))
    assert (
        isinstance(reconnect, Reconnect)
        and reconnect.session.reconnect_url == "ws://x/ws?reconnect_id=1"
    )
    keepalive = orjson.loads(frames.keepalive(TS))
    assert (
        keepalive["payload"] == {} and keepalive["metadata"]["message_type"] == "session_keepalive"
    )
    assert set(keepalive["metadata"]) == {"message_id", "message_type", "message_timestamp"}


def test_notification_template_splices_ids() -> None:
    event = {"message_id": "orig", "text": "hi \u00e9"}
    template = frames.NotificationTemplate(sub(), event, "message_id")
    text = template.render("m-1", TS, "e-1")
    message = parse_message(text)
    assert isinstance(message, Notification)
    assert message.metadata.message_id == "m-1" and message.metadata.message_timestamp == TS
    assert message.metadata.subscription_type == "channel.chat.message"
    assert message.event == {"message_id": "e-1", "text": "hi \u00e9"}
    assert message.subscription.transport == {"method": "websocket", "session_id": "sess"}
    plain = orjson.loads(frames.NotificationTemplate(sub(), event).render("m-2", TS))
    assert plain["payload"]["event"] == event


def test_revocation_carries_status_and_no_event() -> None:
    revoked = sub()
    revoked.status = "user_removed"
    message = parse_message(frames.revocation(revoked, TS))
    assert isinstance(message, Revocation) and message.subscription.status == "user_removed"
    assert "event" not in orjson.loads(frames.revocation(revoked, TS))["payload"]
