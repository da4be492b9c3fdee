"""What a webhook message carries: Twitch's ``Twitch-Eventsub-*`` headers and its signature.

The signature is ``sha256=HMAC-SHA256(secret, message_id + timestamp + body)``
(twitch-eventsub.md §8); ``adapters.webhooks`` POSTs the body with these headers.
"""

from __future__ import annotations

import hashlib
import hmac

from kiss.simulator.twitch.model import Subscription


def signature(secret: str, message_id: str, message_timestamp: str, body: bytes) -> str:
    digest = hmac.new(
        secret.encode(), message_id.encode() + message_timestamp.encode() + body, hashlib.sha256
    )
    return "sha256=" + digest.hexdigest()


def headers(
    secret: str,
    message_id: str,
    message_type: str,
    message_timestamp: str,
    body: bytes,
    sub: Subscription | None,
) -> dict[str, str]:
    """The headers of one message; a conduit shard's challenge names no subscription."""
    sent = {
        "Content-Type": "application/json",
        "Twitch-Eventsub-Message-Id": message_id,
        "Twitch-Eventsub-Message-Retry": "0",
        "Twitch-Eventsub-Message-Type": message_type,
        "Twitch-Eventsub-Message-Signature": signature(secret, message_id, message_timestamp, body),
        "Twitch-Eventsub-Message-Timestamp": message_timestamp,
    }
    if sub is not None:
        sent["Twitch-Eventsub-Subscription-Type"] = sub.type
        sent["Twitch-Eventsub-Subscription-Version"] = sub.version
    return sent
