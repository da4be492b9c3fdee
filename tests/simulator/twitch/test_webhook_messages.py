"""Webhook message headers and Twitch's HMAC signature, without a socket."""

from __future__ import annotations

import hashlib
import hmac

from kiss.simulator.twitch.model import Subscription
from kiss.simulator.twitch.webhook_messages import headers, signature


def test_signature_is_twitchs_hmac() -> None:
    expected = hmac.new(b"key-key-key", b"id" + b"ts" + b"{}", hashlib.sha256).hexdigest()
    assert signature("key-key-key", "id", "ts", b"{}") == "sha256=" + expected


def test_headers_name_the_message_and_its_subscription() -> None:
    sub = Subscription(
        "s", "stream.online", "1", {"broadcaster_user_id": "1"}, "webhook", "c", "t", 1
    )
    sent = headers("key-key-key", "id", "notification", "ts", b"{}", sub)
    assert sent == {
        "Content-Type": "application/json",
        "Twitch-Eventsub-Message-Id": "id",
        "Twitch-Eventsub-Message-Retry": "0",
        "Twitch-Eventsub-Message-Type": "notification",
        "Twitch-Eventsub-Message-Signature": signature("key-key-key", "id", "ts", b"{}"),
        "Twitch-Eventsub-Message-Timestamp": "ts",
        "Twitch-Eventsub-Subscription-Type": "stream.online",
        "Twitch-Eventsub-Subscription-Version": "1",
    }


def test_a_shard_challenge_names_no_subscription() -> None:
    sent = headers("key-key-key", "id", "webhook_callback_verification", "ts", b"{}", None)
    assert not any(name.startswith("Twitch-Eventsub-Subscription") for name in sent)
