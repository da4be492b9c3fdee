"""The webhook transport: callback verification, signed notifications, revocations.

Messages carry the headers and signature of ``twitch.webhook_messages``.
A callback that fails ``max_failures`` notifications in a row is disabled with
``notification_failures_exceeded`` and told so by a revocation.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable

import aiohttp
import orjson

from kiss.simulator.twitch import frames, webhook_messages
from kiss.simulator.twitch.clock import timestamp
from kiss.simulator.twitch.model import JSON, Conduit, Shard, Subscription
from kiss.simulator.twitch.world import SimulatorState


class WebhookSender:
    def __init__(
        self,
        state: SimulatorState,
        http: aiohttp.ClientSession,
        clock: Callable[[], float],
        max_failures: int = 3,
    ) -> None:
        self.state = state
        self.http = http
        self.clock = clock
        self.max_failures = max_failures

    async def _post(
        self,
        callback: str,
        secret: str,
        message_type: str,
        payload: JSON,
        sub: Subscription | None,
    ) -> tuple[str, str | None]:
        """POST one signed message; (message id, the answer's text, or None on a failure)."""
        message_id = str(uuid.uuid4())
        sent_at = timestamp(self.clock())
        body = orjson.dumps(payload)
        headers = webhook_messages.headers(secret, message_id, message_type, sent_at, body, sub)
        timeout = aiohttp.ClientTimeout(total=max(1.0, self.state.seconds(10)))
        try:
            async with self.http.post(
                callback, data=body, headers=headers, timeout=timeout
            ) as answer:
                text = await answer.text()
                return message_id, text if 200 <= answer.status < 300 else None
        except (aiohttp.ClientError, TimeoutError):
            return message_id, None

    async def _to_sub(
        self, sub: Subscription, message_type: str, payload: JSON
    ) -> tuple[str, str | None]:
        return await self._post(sub.callback or "", sub.secret or "", message_type, payload, sub)

    async def verify(self, sub: Subscription) -> bool:
        """The callback must echo the challenge; the subscription is enabled or failed."""
        challenge = secrets.token_urlsafe(24)
        _, answer = await self._to_sub(
            sub,
            "webhook_callback_verification",
            {"challenge": challenge, "subscription": sub.to_json()},
        )
        if sub.id not in self.state.subscriptions:
            return False
        if answer == challenge:
            self.state.enable(sub)
            return True
        self.state.disable(sub, "webhook_callback_verification_failed", self.clock())
        return False

    async def notify(self, sub: Subscription, event: JSON) -> str | None:
        """One notification; its message id when the callback answered 2xx."""
        message_id, answer = await self._to_sub(
            sub, "notification", frames.notification_payload(sub, event)
        )
        if answer is not None:
            sub.webhook_failures = 0
            return message_id
        sub.webhook_failures += 1
        if sub.webhook_failures >= self.max_failures and sub.enabled:
            self.state.disable(sub, "notification_failures_exceeded", self.clock())
            await self.revoke(sub)
        return None

    async def revoke(self, sub: Subscription) -> bool:
        _, answer = await self._to_sub(sub, "revocation", {"subscription": sub.to_json()})
        return answer is not None

    async def verify_shard(self, conduit: Conduit, shard: Shard) -> bool:
        """A webhook shard echoes its challenge to become enabled."""
        challenge = secrets.token_urlsafe(24)
        payload = {
            "challenge": challenge,
            "conduit_shard": {"conduit_id": conduit.id, "shard": shard.id},
        }
        _, answer = await self._post(
            shard.callback or "", shard.secret or "", "webhook_callback_verification", payload, None
        )
        verified = answer == challenge
        shard.status = "enabled" if verified else "webhook_callback_verification_failed"
        if verified:
            conduit.all_disabled_since = None
        return verified

    async def notify_shard(self, shard: Shard, sub: Subscription, event: JSON) -> str | None:
        """A conduit notification through a webhook shard (failing shards are not rerouted)."""
        message_id, answer = await self._post(
            shard.callback or "",
            shard.secret or "",
            "notification",
            frames.notification_payload(sub, event),
            sub,
        )
        if answer is not None:
            shard.webhook_failures = 0
            return message_id
        shard.webhook_failures += 1
        if shard.webhook_failures >= self.max_failures:
            shard.status = "notification_failures_exceeded"
        return None
