"""The asyncio adapter around one ``SessionMachine``: it owns the sockets and the timer.

A runner keeps one *slot* alive: a conduit shard or one websocket-transport session.
Frames go into the machine; its outputs come back as entries for the stream writer and
as socket actions. What differs between a shard and a user session (binding the shard,
telling the reconciler) lives in ``SlotHooks``.

Frames are handled synchronously as they are read (no queue, no await per event): the
machine and the writer's ``add`` never block, and the writer flushes in its own task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from websockets.typing import BytesLike

from kiss.contracts.stream_entry import Entry
from kiss.contracts.timestamps import epoch_text
from kiss.eventsub.messages import Notification, RawNotification
from kiss.eventsub.session import (
    CLOSE_ADVICE,
    CloseSocket,
    Deliver,
    Dropped,
    Gap,
    Lost,
    OpenReconnect,
    Output,
    Revoke,
    SessionMachine,
    Welcomed,
)
from kiss.keys import Keys
from kiss.listener.backoff import Backoff, reconnecting
from kiss.listener.entries import EntryBuilder, gap_entry, revocation_entry
from kiss.listener.refusals import REFUSALS, Refusals
from kiss.listener.socket import Dial, PushConnection, websocket_dialer
from kiss.listener.writer import StreamWriter
from kiss.logs import bind

log = logging.getLogger(__name__)

_READ_FIRST_SECONDS = 0.001
# A pause for a Redis that is behind lasts at most this long; then the writer spools.
PAUSE_MAX_SECONDS = 1.0


class SlotHooks(Protocol):
    """What a slot does when its session is welcomed or lost."""

    async def welcomed(
        self, runner: SessionRunner, welcomed: Welcomed, previous: str | None
    ) -> None:
        """Bind the shard, or register the session and ask for its subscriptions."""

    async def lost(self, runner: SessionRunner, session_id: str | None, reason: str) -> None: ...


@dataclass
class SlotStats:
    delivered: int = 0
    revocations: int = 0
    dropped: int = 0
    malformed: int = 0
    reconnects: int = 0
    handovers: int = 0
    gaps: int = 0
    connected_at: float | None = None
    last_reason: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class SessionRunner:
    def __init__(
        self,
        slot: str,
        url: str,
        machine: SessionMachine,
        writer: StreamWriter,
        keys: Keys,
        hooks: SlotHooks,
        backoff: Backoff,
        *,
        dial: Dial | None = None,
        channels: set[str] | None = None,
        session_id: str | None = None,
        clock: Callable[[], float] = time.time,
        refusals: Refusals | None = None,
    ) -> None:
        self.slot = slot
        self.url = url
        self.machine = machine
        self.writer = writer
        self.keys = keys
        self.hooks = hooks
        self.backoff = backoff
        self.stats = SlotStats()
        # Channels seen on this slot, and its progress, go to Redis with the entries: whoever
        # holds the slot next (this process restarted, or another) knows whom to warn of a gap.
        self.channels: set[str] = set(channels or ())
        self._slot_key = keys.listener_slot(slot)
        self.refusals = refusals or REFUSALS  # bad frames: counted, logged once a minute per kind
        self._entries = EntryBuilder(keys, self.refusals, slot)
        writer.track(self._slot_key, lambda: machine.last_message_at)
        self._channels_key = keys.listener_slot_channels(slot)
        self._all_channels_key = keys.channels()
        self._dial = dial or websocket_dialer(machine.config.time_unit)
        self._clock = clock
        self._sockets: dict[int, PushConnection] = {}
        self._readers: set[asyncio.Task[None]] = set()
        self._background: set[asyncio.Task[Any]] = set()
        self._next_conn = 0
        self._lost = asyncio.Event()
        self._stop = asyncio.Event()
        self._rearm = asyncio.Event()
        self._session_id: str | None = None
        # The session this slot last held, lost (by this process, or before a restart): the
        # next welcome's hooks get it, e.g. to find the channels subscribed on it.
        self._lost_session_id = session_id
        self.last_close_code: int | None = None

    # -- public ---------------------------------------------------------------------------

    @property
    def session_id(self) -> str | None:
        return self._session_id

    @property
    def phase(self) -> str:
        return self.machine.phase.value

    async def run(self) -> None:
        """Hold the slot until ``stop``: connect, follow the session, reconnect on loss."""
        bind(slot=self.slot)  # this task's log lines and its children's name the slot
        watchdog = asyncio.create_task(self._watch(), name=f"watchdog {self.slot}")
        try:
            async for ws in reconnecting(
                lambda: self._dial(self.url),
                self.backoff,
                sleep=self._pause,
                stopped=self._stop.is_set,
            ):
                if self._stop.is_set():
                    await ws.close()
                    break
                self._lost.clear()
                conn = self._adopt(ws)
                self._apply(self.machine.opened(conn, self._clock()))
                self._rearm.set()
                await self._wait_any(self._lost, self._stop)
                if self._stop.is_set():
                    break
                self.stats.reconnects += 1
        finally:
            watchdog.cancel()
            await self._close_all()
            self.writer.untrack(self._slot_key)

    async def stop(self) -> None:
        """Stop reading, let every socket drain what it already received, close them."""
        self._stop.set()
        await self._close_all()

    def restart(self, reason: str) -> None:
        """Drop the current session and start a fresh one (e.g. a shard that would not bind)."""
        log.warning("%s: restarting the session: %s", self.slot, reason)
        self._apply(self.machine.abandon(reason, self._clock()))

    # -- sockets --------------------------------------------------------------------------

    def _adopt(self, ws: PushConnection) -> int:
        self._next_conn += 1
        conn = self._next_conn
        self._sockets[conn] = ws
        ws.refusals = self.refusals
        task = asyncio.create_task(self._read(conn, ws), name=f"reader {self.slot}#{conn}")
        self._readers.add(task)
        task.add_done_callback(self._readers.discard)
        return conn

    async def _read(self, conn: int, ws: PushConnection) -> None:
        """Feed the socket's messages to the machine as they are parsed, until it closes.

        Attached here, not in ``_adopt``: the machine must know the socket (``opened``)
        before its first frame, the welcome, is handed over.
        """
        receive = self.machine.receive
        build_entry = self._entries.entry
        channels = self.channels
        apply = self._apply
        clock = self._clock
        writer = self.writer
        stats = self.stats
        paused = False

        async def resume_when_room() -> None:
            nonlocal paused
            try:
                while not await self._room_within(PAUSE_MAX_SECONDS):
                    writer.stalled()  # Redis takes nothing: the writer spools, we read on
            finally:
                ws.resume_reading()
                paused = False
                self.machine.resumed(clock())
                self._rearm.set()

        def hand_over(routed: list[Entry]) -> None:
            stats.delivered += len(routed)
            writer.extend(routed)
            routed.clear()

        def on_frames(frames: list[BytesLike]) -> None:
            nonlocal paused
            now = clock()
            received = epoch_text(now)  # one read, one receive time
            routed: list[Entry] = []  # handed to the writer at once, in order
            for frame in frames:
                try:
                    for output in receive(conn, frame, now):
                        if type(output) is Deliver:  # ``_route``, inline on the hot path
                            entry = build_entry(output.message, received)
                            if entry is None:
                                stats.dropped += 1  # refused by the builder, which counted it
                            else:
                                if entry.channel_id not in channels:
                                    self._first_seen(entry.channel_id)
                                routed.append(entry)
                        else:
                            hand_over(routed)  # what the machine outputs comes after them
                            apply((output,))
                except Exception as error:  # contained to this frame; counted, logged sparingly
                    self.refusals.contain(error, f"{self.slot} #{conn}")
            hand_over(routed)
            if writer.behind and not paused:
                # Redis answers but is behind (a flood): pause, so that TCP pushes back and
                # the hot path stays in memory. The machine does not count the pause as
                # Twitch's silence; a failing or stalled Redis sends entries to the spool
                # instead, and reading goes on.
                paused = True
                ws.pause_reading()
                self.machine.paused(now)
                self._spawn(resume_when_room())

        try:
            ws.attach(on_frames)
            await ws.wait_closed()
        finally:
            self._sockets.pop(conn, None)
            code = ws.close_code
            reason = ws.close_reason or ""
            self._apply(self.machine.closed(conn, code, reason, clock()))

    async def _room_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self.writer.room(), seconds)
        except TimeoutError:
            return False
        return True

    async def _open_reconnect(self, url: str) -> None:
        try:
            ws = await self._dial(url)
        except Exception as error:
            self._apply(
                self.machine.reconnect_failed(f"{type(error).__name__}: {error}", self._clock())
            )
            return
        if self._stop.is_set() or not self.machine.awaiting_reconnect_socket:
            await ws.close()  # stopping, or the session was lost while dialling
            return
        conn = self._adopt(ws)
        self._apply(self.machine.opened(conn, self._clock()))
        self._rearm.set()

    async def _close(self, conn: int, code: int) -> None:
        ws = self._sockets.get(conn)
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close(code)

    async def _close_all(self) -> None:
        for conn in list(self._sockets):
            await self._close(conn, 1000)
        if self._readers:
            await asyncio.gather(*self._readers, return_exceptions=True)
        pending = [task for task in self._background if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=5)

    # -- outputs --------------------------------------------------------------------------

    def _apply(self, outputs: Iterable[Output]) -> None:
        for output in outputs:
            if isinstance(output, Deliver):
                routed: list[Entry] = []
                self._route(output.message, epoch_text(self._clock()), routed)
                self.stats.delivered += len(routed)
                self.writer.extend(routed)
            elif isinstance(output, Dropped):
                self._dropped(output)
            elif isinstance(output, Revoke):
                entry = revocation_entry(self.keys, output.message, self._clock())
                self.stats.revocations += 1
                if entry is not None:
                    self.writer.remember(self._all_channels_key, entry.channel_id)
                    self.writer.add(entry)
            elif isinstance(output, Welcomed):
                self._welcomed(output)
            elif isinstance(output, OpenReconnect):
                log.info("%s: session_reconnect, opening the reconnect URL", self.slot)
                self._spawn(self._open_reconnect(output.url))
            elif isinstance(output, CloseSocket):
                self._spawn(self._close(output.conn, output.code))
            elif isinstance(output, Lost):
                self._on_lost(output)

    def _route(
        self, message: Notification | RawNotification, received: str, routed: list[Entry]
    ) -> None:
        """A delivered notification's entry joins ``routed`` (None: refused by the builder,
        which counted and logged it)."""
        entry = self._entries.entry(message, received)
        if entry is None:
            self.stats.dropped += 1
            return
        channel = entry.channel_id
        if channel not in self.channels:
            self._first_seen(channel)
        routed.append(entry)

    def _first_seen(self, channel: str) -> None:
        """A channel new to this slot: remembered with the slot (for gap markers) and among
        the hub's channels (for trimming and status)."""
        self.channels.add(channel)
        self.writer.remember(self._channels_key, channel)
        self.writer.remember(self._all_channels_key, channel)

    def _dropped(self, output: Dropped) -> None:
        self.stats.dropped += 1
        if output.kind is not None:
            self.stats.malformed += 1
            self.refusals.refuse(output.kind, output.reason, self.slot)
        elif output.message_id is not None:
            log.debug(
                "%s: dropped %s: %s",
                self.slot,
                output.message_id,
                output.reason,
                extra={"message_id": output.message_id},
            )
        else:
            log.debug("%s: dropped: %s", self.slot, output.reason)

    def _welcomed(self, output: Welcomed) -> None:
        previous = self._session_id or self._lost_session_id
        self._session_id, self._lost_session_id = output.session_id, None
        self.backoff.reset()
        self._rearm.set()
        now = self._clock()
        if output.fresh:
            self.stats.connected_at = now
        else:
            self.stats.handovers += 1
        if output.gap is not None and self.channels:
            self.stats.gaps += 1
            self.mark_gap(self.channels, output.gap)
        log.info(
            "%s: session %s welcomed (%s)",
            self.slot,
            output.session_id,
            "fresh" if output.fresh else "handover",
        )
        self._spawn(self.hooks.welcomed(self, output, previous))

    def mark_gap(self, channels: Iterable[str], gap: Gap) -> None:
        """Put a gap marker on each channel's stream; channels new to the slot join it."""
        at = self._clock()
        for channel in sorted(channels):
            if channel not in self.channels:
                self._first_seen(channel)
            self.writer.add(gap_entry(self.keys, channel, gap, at))

    def _on_lost(self, output: Lost) -> None:
        if self._stop.is_set():
            log.info("%s: session closed (%s)", self.slot, output.reason)
        else:
            advice = CLOSE_ADVICE.get(output.code or 0, "reconnecting")
            log.warning("%s: session lost: %s: %s", self.slot, output.reason, advice)
        self.stats.last_reason = output.reason
        self.last_close_code = output.code
        lost_id, self._session_id = self._session_id, None
        self._lost_session_id = lost_id or self._lost_session_id
        self._spawn(self.hooks.lost(self, lost_id, output.reason))
        self._lost.set()

    # -- timers and tasks -----------------------------------------------------------------

    async def _watch(self) -> None:
        """Call ``tick`` when the machine's deadline passes (keepalive, welcome, handover)."""
        while True:
            deadline = self.machine.deadline
            now = self._clock()
            if deadline is not None and now >= deadline:
                # The silence is Twitch's only if the sockets have nothing unread: after the
                # loop was busy (a long flush), frames may wait in the kernel. A timer's
                # callback runs after the socket reads of its loop pass, so a short sleep
                # lets them in (and move the deadline) before it is checked again.
                await asyncio.sleep(_READ_FIRST_SECONDS)
                deadline = self.machine.deadline
                now = self._clock()
                if deadline is not None and now >= deadline:
                    self._apply(self.machine.tick(now))
                continue
            delay = 1.0 if deadline is None else min(1.0, deadline - now)
            self._rearm.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._rearm.wait(), delay)

    async def _pause(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay)

    @staticmethod
    async def _wait_any(*events: asyncio.Event) -> None:
        waiters = [asyncio.create_task(event.wait()) for event in events]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    def _spawn(self, coroutine: Awaitable[Any]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: background task failed: %r", self.slot, task.exception())
