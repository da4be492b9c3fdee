"""``HubEventSubClient``: a bot's view of its channel on the hub.

The drop-in successor of the seed's Unix-socket client (same constructor head, ``start()``,
``stop()``): events come from the channel's Redis stream through the bot's consumer group,
at least once, acknowledged when the handler returns and left pending when it raises.

    client = HubEventSubClient("1234", "el_serda", redis_url="redis://...", bot="greeter")

    @client.on("stream.online")
    async def online(event: NotificationEvent) -> None: ...

    await client.start()
    await client.subscribe("stream.online")          # validated at once, recorded by the hub
    await client.listen("channel.follow", followed)  # or both in one call
    ...
    await client.stop()

Or, instead of handlers: ``async for event in client.events(): ...`` (acknowledged when the
loop asks for the next one).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from kiss.cancelling import cancel_and_wait
from kiss.client.connection import DEFAULT_REDIS_URL, HubConnection
from kiss.client.errors import ClientError
from kiss.client.events import ChannelEvent, GapEvent, RevocationEvent
from kiss.client.inbox import Inbox
from kiss.client.options import ClientOptions, consumer_name
from kiss.client.presence import PresenceCard
from kiss.client.redis_errors import TRANSIENT
from kiss.client.replay import Position, StartPosition, first_read_id, replay, rewind
from kiss.client.requests import (
    SubscriptionOutcome,
    last_outcome_id,
    new_request_id,
    send_request,
    wait_outcome,
)
from kiss.client.rows import entries
from kiss.client.typed import adapter as typed_adapter
from kiss.contracts.bot_requests import (
    ACTIVE,
    FAILED,
    HELLO,
    REMOVED,
    SUBSCRIBE,
    UNSUBSCRIBE,
    Op,
    encode_request,
)
from kiss.contracts.stream_entry import GAP, NOTIFICATION, REVOCATION
from kiss.eventsub.catalog import Topic, lookup
from kiss.eventsub.events import Event
from kiss.keys import Keys

log = logging.getLogger(__name__)

ANY = "*"
_BOT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def checked_bot_name(bot: str | None) -> str:
    """The bot's name, which names its consumer group: required, a short word."""
    if not bot:
        raise ClientError(
            "HubEventSubClient needs bot='<name>': the name of your bot's consumer group. "
            "Every bot name gets every event of the channel, and processes with the same name "
            "share them out (the demo bots are 'kissbot'), so pick a name of your own."
        )
    if not _BOT_NAME.fullmatch(bot):
        raise ClientError(
            f"bot name {bot!r}: use up to 64 letters, digits, '_', '.' or '-' "
            "(starting with a letter or digit)"
        )
    return bot


E = TypeVar("E", bound=ChannelEvent)
Handler = Callable[[E], Awaitable[None] | None]
H = TypeVar("H", bound=Callable[..., Any])


@dataclass(frozen=True)
class PendingSubscription:
    """A request the control plane accepted; ``outcome()`` waits for what Twitch made of it."""

    client: HubEventSubClient
    op: str
    type: str
    version: str
    condition: dict[str, str]
    after_id: str

    async def outcome(self, wait_seconds: float = 30.0) -> SubscriptionOutcome:
        """``active`` / ``removed``, or ``failed`` with Twitch's reason in ``.reason``."""
        statuses = {ACTIVE, FAILED} if self.op == SUBSCRIBE else {REMOVED, FAILED}
        return await wait_outcome(
            self.client.connection.redis,
            self.client.keys,
            self.client.channel_id,
            self.type,
            self.version,
            after_id=self.after_id,
            statuses=statuses,
            wait_seconds=wait_seconds,
        )


class HubEventSubClient:
    def __init__(
        self,
        channel_id: str | int,
        channel_name: str,
        redis_url: str = DEFAULT_REDIS_URL,
        *,
        bot: str | None = None,
        start: StartPosition = "now",
        keys: Keys | None = None,
        options: ClientOptions | None = None,
        connection: HubConnection | None = None,
        control_timeout: float = 10.0,
    ) -> None:
        self.channel_id = str(channel_id)  # the seed passed ints; streams are keyed by text
        self.channel_name = channel_name
        self.bot = checked_bot_name(bot)
        self._first_id = first_read_id(start)  # a bad start raises here, not at start()
        if connection is not None and (
            options is not None or (keys is not None and keys != connection.keys)
        ):
            raise ClientError("with a shared connection, give keys and options to it instead")
        self._owns_connection = connection is None
        self.connection = connection or HubConnection(redis_url, keys=keys, options=options)
        self.keys = self.connection.keys
        self.control_timeout = control_timeout
        options = self.connection.options
        self.inbox = Inbox(
            stream=self.keys.channel_stream(self.channel_id),
            group=self.keys.bot_group(self.bot),
            dead_letters=self.keys.bot_dead_letters(self.channel_id, self.bot),
            capacity=options.queue_size,
            consumer=consumer_name(self.bot, options.instance),
        )
        self._card: PresenceCard | None = None
        self._handlers: dict[str, list[Handler[Any]]] = {}
        self._dispatcher: asyncio.Task[None] | None = None
        self._started = False
        self._iterating = False
        self._unhandled: set[str] = set()  # kinds and types already logged as unhandled
        self.handled = 0
        self.failed = 0

    # -- handlers -----------------------------------------------------------
    def on(self, type_: str | type[Event]) -> Callable[[H], H]:
        """Register a handler of a notification type (``"*"``: every notification), or of
        an event class (``ChannelChatMessage``): it gets a ``kiss.client.typed.TypedEvent``."""
        if isinstance(type_, type):
            key, adapt = typed_adapter(type_)  # UnknownTopic for a class that is not one
            register = self._register(key)

            def decorator(handler: H) -> H:
                register(adapt(handler))
                return handler

            return decorator
        if type_ != ANY:
            lookup(type_)  # UnknownTopic now rather than silence later
        return self._register(type_)

    def on_gap(self, handler: H) -> H:
        """Register a handler of gap markers (the listener lost events in a time range)."""
        return self._register(GAP)(handler)

    def on_revocation(self, handler: H) -> H:
        """Register a handler of revocations (Twitch ended a subscription)."""
        return self._register(REVOCATION)(handler)

    def _register(self, key: str) -> Callable[[H], H]:
        if self._iterating:
            raise ClientError("this client delivers through events(): use handlers or events()")

        def decorator(handler: H) -> H:
            self._handlers.setdefault(key, []).append(handler)
            if self._started and self._dispatcher is None:  # the first, after start()
                self._start_dispatcher()
            return handler

        return decorator

    def _unregister(self, key: str, handler: Handler[Any]) -> None:
        handlers = self._handlers.get(key, [])
        if handler in handlers:
            handlers.remove(handler)

    def _handlers_for(self, event: ChannelEvent) -> list[Handler[Any]]:
        if isinstance(event, GapEvent):
            return self._handlers.get(GAP, [])
        if isinstance(event, RevocationEvent):
            return self._handlers.get(REVOCATION, [])
        return [*self._handlers.get(event.type, []), *self._handlers.get(ANY, [])]

    def _log_unhandled(self, event: ChannelEvent) -> None:
        """Once per type: an entry no handler takes is acknowledged, and that is said."""
        what = event.type if event.kind == NOTIFICATION else event.kind
        if what in self._unhandled:
            return
        self._unhandled.add(what)
        how = (
            f"@client.on({what!r}) or @client.on('*')"
            if event.kind == NOTIFICATION
            else (f"@client.on_{event.kind}")
        )
        log.warning(
            "bot %s on #%s: no handler takes %s %s (entry %s); acknowledged without handling. "
            "Register %s to handle them; said once per type.",
            self.bot,
            self.channel_id,
            event.kind,
            event.type,
            event.stream_id,
            how,
        )

    # -- life cycle -----------------------------------------------------------
    async def start(self) -> None:
        """Join the bot's group (created at the start of the stream if new), announce
        the bot, and begin delivering to the handlers, if any were registered."""
        if self._started:
            return
        self._card = PresenceCard(
            key=self.keys.bot_presence(self.channel_id, self.bot),
            stream=self.inbox.stream,
            group=self.inbox.group,
            channel_id=self.channel_id,
            channel_name=self.channel_name,
            bot=self.bot,
            consumer=self.inbox.consumer,
            started_at=time.time(),
        )
        await self.connection.attach(self.inbox, self._card, self._first_id)
        try:
            await send_request(
                self.connection.redis, self.keys, self._fields(HELLO), wait_seconds=None
            )
        except TRANSIENT as error:  # presence says the same, and it retries
            log.warning("hello not sent (%s); presence will announce the bot", error)
        self._started = True
        if self._handlers:
            self._start_dispatcher()

    def _start_dispatcher(self) -> None:
        self._dispatcher = asyncio.create_task(
            self._dispatch(), name=f"kiss-bot-{self.bot}-{self.channel_id}"
        )

    async def stop(self) -> None:
        """Stop delivering; what is not acknowledged stays pending and comes back later."""
        if not self._started:
            if self._owns_connection:  # a start() cut short (e.g. while Redis was down)
                await self.connection.close()
            return
        self._started = False
        if self._dispatcher is not None:
            await cancel_and_wait([self._dispatcher])
            self._dispatcher = None
        assert self._card is not None
        await self.connection.detach(self.inbox, self._card)
        if self._owns_connection:
            await self.connection.close()

    async def __aenter__(self) -> HubEventSubClient:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- delivery ---------------------------------------------------------------
    async def _dispatch(self) -> None:
        while True:
            event = await self.inbox.get()
            await self._handle(event)

    async def _handle(self, event: ChannelEvent) -> None:
        handlers = self._handlers_for(event)
        if not handlers:
            self._log_unhandled(event)
        try:
            for handler in handlers:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
        except Exception:
            self.failed += 1
            log.exception(
                "handler of %s %s (entry %s, delivery %d) failed; left pending for a retry",
                event.kind,
                event.type,
                event.stream_id,
                event.delivery_count,
            )
            self.inbox.settle(event.stream_id)
            return
        self.ack(event)

    def ack(self, event: ChannelEvent) -> None:
        """Acknowledge an event (done for you when a handler returns or the loop goes on)."""
        self.handled += 1
        self.connection.ack(self.inbox, event.stream_id)
        self.inbox.settle(event.stream_id)

    async def events(self) -> AsyncGenerator[ChannelEvent]:
        """Every event in order, typed; each is acknowledged when the loop asks for the next
        (after a ``break``, call ``ack(event)`` yourself). If the loop body raises, the event
        stays pending and is delivered again after ``min_idle_ms``."""
        if not self._started:
            raise ClientError("call start() before events()")
        if self._dispatcher is not None:
            raise ClientError("this client has handlers: use either handlers or events()")
        self._iterating = True
        while True:
            event = await self.inbox.get()
            done = False
            try:
                yield event
                done = True
            finally:
                if done:
                    self.ack(event)
                else:
                    self.inbox.settle(event.stream_id)

    # -- subscriptions ------------------------------------------------------------
    def _fields(
        self, op: Op, topic: Topic | None = None, condition: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        return encode_request(
            new_request_id(),
            op,
            bot=self.bot,
            channel_id=self.channel_id,
            channel_name=self.channel_name,
            type=topic.type if topic else "",
            version=topic.version if topic else "",
            condition=condition,
            now=time.time(),
        )

    def _condition(self, topic: Topic, condition: Mapping[str, str] | None) -> dict[str, str]:
        """The bot's condition, with this channel filled in where the topic names it."""
        return topic.condition_for(self.channel_id, condition or {})

    async def _request(
        self,
        op: Op,
        type_: str,
        version: str | None,
        condition: Mapping[str, str] | None,
        wait_seconds: float | None,
    ) -> PendingSubscription:
        topic = lookup(type_, version)  # UnknownTopic / InvalidCondition before any I/O
        cleaned = self._condition(topic, condition)
        after = await last_outcome_id(self.connection.redis, self.keys, self.channel_id)
        await send_request(
            self.connection.redis,
            self.keys,
            self._fields(op, topic, cleaned),
            wait_seconds=self.control_timeout if wait_seconds is None else wait_seconds,
        )
        return PendingSubscription(self, op, topic.type, topic.version, cleaned, after)

    async def subscribe(
        self,
        type_: str,
        version: str | None = None,
        condition: Mapping[str, str] | None = None,
        *,
        wait_seconds: float | None = None,
    ) -> PendingSubscription:
        """Ask the hub for a subscription; returns once it is validated and recorded.

        Raises UnknownTopic / InvalidCondition at once, SubscriptionRejected when the
        control plane refuses (e.g. the channel's token lacks the scope), and
        ControlPlaneTimeout when nobody answers. ``await result.outcome()`` for Twitch's word.
        """
        return await self._request(SUBSCRIBE, type_, version, condition, wait_seconds)

    async def listen(
        self,
        type_: str,
        handler: Handler[Any],
        version: str | None = None,
        condition: Mapping[str, str] | None = None,
        *,
        wait_seconds: float | None = None,
    ) -> PendingSubscription:
        """Handle a type and subscribe to it, in one call (pyTwitchAPI's ``listen_*``,
        twurple's ``on*``): ``on(type_)(handler)``, then ``subscribe(...)``.

        Before or after ``start()``. If the subscription is refused, the handler is taken
        back and the error raised.
        """
        self.on(type_)(handler)
        try:
            return await self.subscribe(type_, version, condition, wait_seconds=wait_seconds)
        except BaseException:
            self._unregister(type_, handler)
            raise

    async def unsubscribe(
        self,
        type_: str,
        version: str | None = None,
        condition: Mapping[str, str] | None = None,
        *,
        wait_seconds: float | None = None,
    ) -> PendingSubscription:
        return await self._request(UNSUBSCRIBE, type_, version, condition, wait_seconds)

    # -- reprocessing ----------------------------------------------------------------
    def replay(
        self, position: Position, *, end: Position | None = None
    ) -> AsyncIterator[ChannelEvent]:
        """Read the stream again from a stream id or a time; no acknowledgement involved."""
        return replay(self.connection.redis, self.inbox.stream, position, end=end)

    async def rewind(self, position: Position) -> str:
        """Deliver again to the handlers every entry from a stream id or a time on."""
        return await rewind(self.connection.redis, self.inbox.stream, self.inbox.group, position)

    async def dead_letters(self, count: int = 100) -> list[tuple[str, dict[str, str]]]:
        """The newest entries that exhausted their deliveries (newest first)."""
        return entries(await self.connection.redis.xrevrange(self.inbox.dead_letters, count=count))
