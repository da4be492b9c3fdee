"""The example bot: subscribes to a few topics of its channel, logs each event on one line.

    kiss bot --channel-id 12345 --channel-name el_serda

It is also the smallest complete use of ``kiss.client``: handlers per topic, gap and
revocation handlers, subscriptions asked of the hub, and their outcomes awaited.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from kiss.backoff import backoff
from kiss.cancelling import cancel_and_wait
from kiss.client import (
    ChannelEvent,
    ClientError,
    ControlPlaneTimeout,
    GapEvent,
    HubEventSubClient,
    OutcomeTimeout,
    RevocationEvent,
)
from kiss.errors import KissError

log = logging.getLogger("kiss.bot")

STOP_SECONDS = 10.0
DEFAULT_TOPICS = ("stream.online", "stream.offline", "channel.update", "channel.follow")


def _who(event: Mapping[str, Any], role: str = "user") -> str:
    return str(event.get(f"{role}_name") or event.get(f"{role}_login") or event.get(f"{role}_id"))


def _online(e: Mapping[str, Any]) -> str:
    return f"{_who(e, 'broadcaster_user')} went live ({e.get('type', 'live')})"


def _update(e: Mapping[str, Any]) -> str:
    return f"title {e.get('title')!r}, category {e.get('category_name')!r}"


def _chat(e: Mapping[str, Any]) -> str:
    message = e.get("message")
    text = message.get("text") if isinstance(message, dict) else message
    return f"<{_who(e, 'chatter_user')}> {text}"


_SAYINGS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "stream.online": _online,
    "stream.offline": lambda e: f"{_who(e, 'broadcaster_user')} went offline",
    "channel.update": _update,
    "channel.follow": lambda e: f"{_who(e)} followed",
    "channel.subscribe": lambda e: f"{_who(e)} subscribed (tier {e.get('tier')})",
    "channel.cheer": lambda e: f"{_who(e)} cheered {e.get('bits')} bits",
    "channel.raid": lambda e: (
        f"{_who(e, 'from_broadcaster_user')} raided with {e.get('viewers')} viewers"
    ),
    "channel.chat.message": _chat,
}


def describe(event: ChannelEvent) -> str:
    """One readable line for an event (what the example bot logs)."""
    where = f"#{event.channel_id} [{event.stream_id}]"
    again = f" (delivery {event.delivery_count})" if event.redelivered else ""
    if isinstance(event, GapEvent):
        return (
            f"{where} GAP: events between {event.gap_from} and {event.gap_to} may be missing "
            f"({event.reason}){again}"
        )
    if isinstance(event, RevocationEvent):
        return f"{where} REVOKED {event.type} v{event.version}: {event.reason}{again}"
    body = event.event if isinstance(event.event, dict) else {}
    saying = _SAYINGS.get(event.type)
    if saying is not None and body:
        try:
            text = saying(body)
        except (AttributeError, TypeError):
            text = ""
        if text:
            return f"{where} {event.type}: {text}{again}"
    raw = orjson.dumps(event.event).decode()
    return f"{where} {event.type}: {raw[:200]}{again}"


def condition_for(type_: str, channel_id: str) -> dict[str, str]:
    """The channel's own condition for a topic (the bot moderates its own channel)."""
    if type_ in ("channel.follow", "channel.shoutout.create", "channel.shoutout.receive"):
        return {"broadcaster_user_id": channel_id, "moderator_user_id": channel_id}
    return {}


class ExampleBot:
    def __init__(
        self,
        client: HubEventSubClient,
        topics: Sequence[str] = DEFAULT_TOPICS,
        *,
        outcome_seconds: float = 60.0,
        retry_max: float = 30.0,
    ) -> None:
        self.client = client
        self.topics = tuple(topics)
        self.outcome_seconds = outcome_seconds
        self.retry_max = retry_max
        self.lines: list[str] = []  # the last lines logged, for tests and demos
        client.on("*")(self._log)
        client.on_gap(self._log)
        client.on_revocation(self._log)

    def _log(self, event: ChannelEvent) -> None:
        line = describe(event)
        self.lines = [*self.lines[-99:], line]
        log.info("%s", line)

    async def _subscribe(self, type_: str) -> None:
        """Ask for one topic until the control plane answers; then log Twitch's outcome."""
        delays = backoff(min(0.5, self.retry_max), self.retry_max)
        condition = condition_for(type_, self.client.channel_id)
        while True:
            try:
                pending = await self.client.subscribe(type_, condition=condition)
                break
            except ControlPlaneTimeout as error:
                delay = next(delays)
                log.warning("%s; asking again in %.1fs", error, delay)
                await asyncio.sleep(delay)
            except KissError as error:  # unknown topic, bad condition, refused scope
                log.error("cannot subscribe to %s: %s", type_, error)
                return
        log.info("#%s subscription to %s recorded", self.client.channel_id, type_)
        try:
            outcome = await pending.outcome(self.outcome_seconds)
        except OutcomeTimeout as error:
            log.warning("%s", error)
            return
        if outcome.active:
            log.info(
                "#%s %s is active (%s)", self.client.channel_id, type_, outcome.subscription_id
            )
        else:
            log.error("#%s %s failed: %s", self.client.channel_id, type_, outcome.reason)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Run until ``stop`` is set or the task is cancelled (kiss.client.run cancels it on
        SIGTERM/SIGINT), also while ``start()`` still waits for Redis."""
        if stop is None:
            await self._run()
            return
        running = asyncio.create_task(self._run())
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            await cancel_and_wait([running, stopping])
        failure = None if running.cancelled() else running.exception()
        if failure is not None:
            raise failure

    async def _run(self) -> None:
        asks: list[asyncio.Task[None]] = []
        try:
            await self.client.start()
            log.info(
                "bot %s on #%s (%s) started; topics: %s",
                self.client.bot,
                self.client.channel_name,
                self.client.channel_id,
                ", ".join(self.topics),
            )
            asks = [asyncio.create_task(self._subscribe(t)) for t in self.topics]
            await asyncio.Event().wait()
        finally:
            for task in asks:
                task.cancel()
            if asks:
                await asyncio.wait(asks, timeout=STOP_SECONDS)
            try:
                # Bounded: a bot must exit on SIGTERM even if Redis hangs.
                await asyncio.wait_for(self.client.stop(), STOP_SECONDS)
            except (ClientError, TimeoutError) as error:
                log.warning("stopping: %s", error or "timed out")
            log.info("bot %s on #%s stopped", self.client.bot, self.client.channel_name)
