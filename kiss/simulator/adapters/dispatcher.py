"""Sends frames to live sockets: notifications, revocations, reconnects and closes.

The one place where the in-memory state meets the open connections; the connections
themselves (``websocket.Connection``) register here by session id.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol

from kiss.eventsub import catalog
from kiss.simulator.adapters.webhooks import WebhookSender
from kiss.simulator.faults import RawFrame
from kiss.simulator.twitch import frames, sessions
from kiss.simulator.twitch import subscriptions as subs_rules
from kiss.simulator.twitch.clock import timestamp
from kiss.simulator.twitch.model import JSON, Conduit, Shard, Subscription
from kiss.simulator.twitch.payloads import event_for
from kiss.simulator.twitch.problems import bad_request, not_found
from kiss.simulator.twitch.routing import shard_watchers, target_session, target_shard
from kiss.simulator.twitch.world import SimulatorState


class Link(Protocol):
    """A live websocket of one session."""

    async def send(self, text: str) -> None: ...

    async def send_many(self, texts: list[str]) -> None: ...

    async def send_raw(self, frames: list[RawFrame]) -> None: ...

    async def close(self, code: int) -> None: ...

    def drop(self) -> None: ...

    def silence(self, silent: bool) -> None: ...

    @property
    def open(self) -> bool: ...


class Dispatcher:
    def __init__(self, state: SimulatorState, clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self.clock = clock
        self.links: dict[str, Link] = {}
        self.webhooks: WebhookSender | None = None  # set while the server runs
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run work in the background, referenced until it is done."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_background(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def link(self, session_id: str | None) -> Link | None:
        link = self.links.get(session_id or "")
        return link if link is not None and link.open else None

    async def send(self, session_id: str, text: str) -> bool:
        link = self.link(session_id)
        if link is None:
            return False
        try:
            await link.send(text)
        except ConnectionError:  # the client went away between the check and the write
            return False
        return True

    async def deliver(self, sub: Subscription, event: JSON, resend: int = 0) -> str | None:
        """One notification for one subscription; its message id, or None when dropped.

        ``resend`` sends the same frame (same message id) again, as Twitch's at-least-once
        delivery sometimes does, so that consumers' deduplication can be tested.
        """
        stats = self.state.stats
        if sub.method == "webhook":
            message_id = await self.webhooks.notify(sub, event) if self.webhooks else None
            if message_id is None:
                stats.notifications_dropped += 1
            else:
                stats.notifications_sent += 1
            return message_id
        shard = target_shard(self.state, sub)
        if shard is not None and shard.method == "webhook":
            message_id = (
                await self.webhooks.notify_shard(shard, sub, event) if self.webhooks else None
            )
            if message_id is None:
                stats.notifications_dropped += 1
            else:
                stats.notifications_sent += 1
            return message_id
        session_id = target_session(self.state, sub)
        link = self.link(session_id)
        if session_id is None or link is None:
            stats.notifications_dropped += 1
            return None
        message_id, frame = frames.notification(sub, event, timestamp(self.clock()))
        try:
            for _ in range(1 + resend):
                await link.send(frame)
        except ConnectionError:
            stats.notifications_dropped += 1
            return None
        stats.notifications_sent += 1
        stats.by_session[session_id] += 1
        return message_id

    async def trigger(
        self,
        type_: str,
        version: str | None,
        channel: str | None,
        condition: Mapping[str, str] | None,
        event: JSON | None,
        count: int,
        *,
        resend: int = 0,
        twin: bool = False,
    ) -> list[str]:
        """Send ``count`` events of a catalog type to every subscription they match.

        ``resend``: each frame again with the same message id; ``twin``: each event again
        under a new message id (the duplicates message-id dedup cannot catch).
        """
        try:
            topic = catalog.lookup(type_, version)
        except Exception as error:
            raise bad_request(str(error)) from None
        message_ids = []
        for _ in range(count):
            targets = subs_rules.matching(
                self.state.subscriptions.values(), topic.type, topic.version, channel, condition
            )
            for sub in targets:
                body = event if event is not None else event_for(topic, sub.condition, self.clock())
                for _ in range(2 if twin else 1):
                    message_id = await self.deliver(sub, body, resend)
                    if message_id is not None:
                        message_ids.append(message_id)
        return message_ids

    async def shard_disabled(self, conduit: Conduit, shard: Shard) -> list[str]:
        """``conduit.shard.disabled`` to the subscriptions watching this conduit's client."""
        event = {
            "conduit_id": conduit.id,
            "shard_id": shard.id,
            "status": shard.status,
            "transport": shard.to_json()["transport"],
        }
        message_ids = []
        for sub in shard_watchers(self.state, conduit):
            message_id = await self.deliver(sub, event)
            if message_id is not None:
                message_ids.append(message_id)
        return message_ids

    async def revoke(self, subscription_id: str, reason: str) -> Subscription:
        """Disable a subscription with a reason and tell its socket once."""
        sub = subs_rules.revoke(self.state, subscription_id, reason, self.clock())
        if sub.method == "webhook" and self.webhooks is not None:
            self.state.stats.revocations_sent += int(await self.webhooks.revoke(sub))
            return sub
        session_id = target_session(self.state, sub) if sub.method != "webhook" else None
        if session_id is not None:
            sent = await self.send(session_id, frames.revocation(sub, timestamp(self.clock())))
            self.state.stats.revocations_sent += int(sent)
        return sub

    async def reconnect(self, session_id: str, ws_url: str) -> str:
        """Send session_reconnect; the URL the client must dial within the grace."""
        session = self.state.sessions.get(session_id)
        if session is None or not session.live or self.link(session_id) is None:
            raise not_found(f"session {session_id} is not connected")
        reconnect_id = sessions.begin_reconnect(self.state, session_id, self.clock())
        url = f"{ws_url}?reconnect_id={reconnect_id}"
        await self.send(session_id, frames.reconnect(session, url, timestamp(self.clock())))
        return url

    async def close(self, session_id: str, code: int) -> None:
        if not 4000 <= code <= 4007:
            raise bad_request(f"close code must be 4000-4007, got {code}")
        await self._live_link(session_id).close(code)

    def drop(self, session_id: str) -> None:
        """Cut the TCP connection with no close frame, as a network failure does."""
        self._live_link(session_id).drop()

    async def send_raw(self, session_id: str, frames: list[RawFrame]) -> int:
        """Frames written as they are (junk, binary) to a session's socket; how many."""
        await self._live_link(session_id).send_raw(frames)
        return len(frames)

    def silence(self, session_id: str, silent: bool) -> None:
        """Stop (or resume) every frame to a session while its socket stays open."""
        self._live_link(session_id).silence(silent)

    def _live_link(self, session_id: str) -> Link:
        link = self.link(session_id)
        if link is None:
            raise not_found(f"session {session_id} is not connected")
        return link
