"""The EventSub WebSocket endpoint ``/ws``: one ``Connection`` per socket, with its timers.

Timers (all scaled by ``time_unit``): a keepalive before the window of silence ends,
WebSocket pings (4002 when a pong does not come), the subscribe window (4003), and the
reconnect grace (4004). Any inbound text or binary frame closes the socket with 4001.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from aiohttp import WSMsgType, web
from websockets.frames import Frame, Opcode

from kiss.simulator.adapters.dispatcher import Dispatcher
from kiss.simulator.faults import RawFrame
from kiss.simulator.twitch import frames, sessions
from kiss.simulator.twitch.clock import timestamp
from kiss.simulator.twitch.model import CLOSE_REASON
from kiss.simulator.twitch.world import SimulatorState

# Twitch sends the keepalive before the client's window of silence ends.
KEEPALIVE_FRACTION = 0.8
# Bytes buffered for a slow client before batched sends wait for it to catch up.
WRITE_HIGH_WATER = 1 << 20


class Connection:
    """One open socket of a session (a session has two during a reconnect handover)."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        session_id: str,
        state: SimulatorState,
        dispatcher: Dispatcher,
        transport: asyncio.Transport | None = None,
    ) -> None:
        self.ws = ws
        self.session_id = session_id
        self.state = state
        self.dispatcher = dispatcher
        self.last_sent = time.monotonic()
        self.close_code: int | None = None
        self.superseded_until: float | None = None  # set when a reconnect took the session over
        self.pong_deadline: float | None = None
        self._closing: asyncio.Future[bool] | None = None
        self.transport = transport
        self._headers: dict[int, bytes] = {}  # payload length -> frame header
        self.silent = False

    @property
    def open(self) -> bool:
        return self.close_code is None and not self.ws.closed

    async def send(self, text: str) -> None:
        if self.silent:
            raise ConnectionResetError("the session is silenced")
        await self.ws.send_str(text)
        self.last_sent = time.monotonic()

    def silence(self, silent: bool) -> None:
        """A black hole: nothing (keepalives, pings, notifications) reaches the client."""
        self.silent = silent
        self.pong_deadline = None

    def drop(self) -> None:
        """A network failure: the TCP connection goes with no close frame (the client sees 1006)."""
        if self.close_code is not None:
            return
        self.close_code = 1006
        if self.superseded_until is None:
            self._announce(
                sessions.end_session(self.state, self.session_id, 4006, self.dispatcher.clock())
            )
        if self.transport is not None:
            self.transport.abort()

    async def send_many(self, texts: list[str]) -> None:
        """Many text frames in one socket write: one syscall instead of one per frame.

        Frames are serialized by websockets' Sans-I/O layer and written to the same transport
        as aiohttp's writer (no compression, so the writer keeps no state between frames).
        """
        transport = self.transport
        if transport is None or transport.is_closing() or self.silent:
            raise ConnectionResetError("the socket is closed or silenced")
        chunks = []
        headers = self._headers
        for text in texts:
            payload = text.encode()
            header = headers.get(len(payload))
            if header is None:
                # Same length, same header: let websockets frame one, keep its header.
                frame = Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
                header = headers[len(payload)] = frame[: len(frame) - len(payload)]
            chunks.append(header)
            chunks.append(payload)
        transport.write(b"".join(chunks))
        self.last_sent = time.monotonic()
        # A slow client: wait for the buffer to drain (the transport has no public event for it).
        while transport.get_write_buffer_size() > WRITE_HIGH_WATER and not transport.is_closing():  # noqa: ASYNC110
            await asyncio.sleep(0.001)

    async def send_raw(self, frames: list[RawFrame]) -> None:
        """Frames as they are (a fault: junk text, binary), in one socket write per 1,000."""
        transport = self.transport
        for start in range(0, len(frames), 1000):
            if transport is None or transport.is_closing() or self.silent:
                raise ConnectionResetError("the socket is closed or silenced")
            transport.write(
                b"".join(
                    Frame(Opcode.BINARY if frame.binary else Opcode.TEXT, frame.data).serialize(
                        mask=False, extensions=[]
                    )
                    for frame in frames[start : start + 1000]
                )
            )
            self.last_sent = time.monotonic()
            while transport.get_write_buffer_size() > WRITE_HIGH_WATER:
                if transport.is_closing():
                    raise ConnectionResetError("the socket closed")
                await asyncio.sleep(0.001)

    async def close(self, code: int) -> None:
        """Close with a code; unless superseded, the session ends and its subs are disabled."""
        if self.close_code is not None:
            return
        self.close_code = code
        self.state.stats.closes[code] += 1
        if self.superseded_until is None:
            self._announce(
                sessions.end_session(self.state, self.session_id, code, self.dispatcher.clock())
            )
        reason = CLOSE_REASON.get(code, "").encode()
        # The close handshake waits for the peer; do not make the caller wait for it.
        self._closing = asyncio.ensure_future(self.ws.close(code=code, message=reason))

    def _announce(self, ended: sessions.Ended) -> None:
        """Disabled conduit shards are announced with ``conduit.shard.disabled``."""
        for conduit, shard in ended.shards:
            self.dispatcher.spawn(self.dispatcher.shard_disabled(conduit, shard))

    def supersede(self) -> None:
        self.superseded_until = time.monotonic() + self.state.seconds(
            self.state.config.reconnect_grace
        )

    def ended(self) -> None:
        """The socket is gone; a client close or a drop disables the session's subscriptions."""
        current = self.dispatcher.links.get(self.session_id)
        # A reconnect whose new socket failed before its welcome leaves the old one in charge.
        if self.close_code is None and self.superseded_until is None and current in (self, None):
            self.close_code = 1000
            self._announce(
                sessions.end_session(self.state, self.session_id, None, self.dispatcher.clock())
            )
        if current is self:
            del self.dispatcher.links[self.session_id]

    async def read(self) -> None:
        async for message in self.ws:
            if message.type is WSMsgType.PONG:
                self.pong_deadline = None
            elif message.type is WSMsgType.PING:
                await self.ws.pong(message.data)
            elif message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                await self.close(4001)
        if self._closing is not None:
            with contextlib.suppress(Exception):
                await self._closing

    async def run_timers(self) -> None:
        config = self.state.config
        unit = config.time_unit
        session = self.state.sessions[self.session_id]
        keepalive_gap = session.keepalive * unit * KEEPALIVE_FRACTION
        ping_every = config.ping_interval * unit
        pong_wait = max(config.pong_timeout * unit, config.min_pong_timeout)
        tick = min(0.25, max(0.005, unit * 0.5))
        next_ping = time.monotonic() + ping_every
        while self.open:
            code = self._due_close(time.monotonic())
            if code is not None:
                await self.close(code)
                return
            now = time.monotonic()
            # Silenced: no keepalives, no pings; the client must notice the silence itself.
            speaking = not self.silent
            if speaking and self.superseded_until is None and now - self.last_sent >= keepalive_gap:
                try:
                    await self.send(frames.keepalive(timestamp(self.dispatcher.clock())))
                except ConnectionError:
                    return  # the reader sees the socket go and ends the session
                self.state.stats.keepalives_sent += 1
            if speaking and now >= next_ping:
                next_ping = now + ping_every
                if self.pong_deadline is None:
                    self.pong_deadline = now + pong_wait
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await self.ws.ping()
            await asyncio.sleep(tick)

    def _due_close(self, now: float) -> int | None:
        if self.pong_deadline is not None and now > self.pong_deadline:
            return 4002
        if self.superseded_until is not None:
            return 4004 if now >= self.superseded_until else None
        session = self.state.sessions.get(self.session_id)
        if session is None:
            return 4000
        wall = self.dispatcher.clock()
        if sessions.unused_past_window(self.state, session, wall):
            return 4003
        deadline = session.reconnect_deadline
        if session.status == "reconnecting" and deadline is not None and wall > deadline:
            return 4004
        return None


async def serve_websocket(
    request: web.Request, state: SimulatorState, dispatcher: Dispatcher
) -> web.WebSocketResponse:
    """GET /ws: welcome a new session, or take over one through its reconnect URL."""
    ws = web.WebSocketResponse(autoping=False, compress=False, max_msg_size=1 << 20, timeout=2.0)
    await ws.prepare(request)
    now = dispatcher.clock()
    reconnect_id = request.query.get("reconnect_id")
    if reconnect_id is not None:
        try:
            session = sessions.accept_reconnect(state, reconnect_id, now)
        except sessions.InvalidReconnect:
            state.stats.closes[4007] += 1
            await ws.close(code=4007, message=CLOSE_REASON[4007].encode())
            return ws
    else:
        keepalive = state.config.clamp_keepalive(request.query.get("keepalive_timeout_seconds"))
        session = sessions.open_session(state, keepalive, now)
    transport = request.transport
    connection = Connection(
        ws,
        session.id,
        state,
        dispatcher,
        transport if isinstance(transport, asyncio.Transport) else None,
    )
    timers: asyncio.Task[None] | None = None
    try:
        await connection.send(frames.welcome(session, timestamp(now)))
        previous = dispatcher.links.get(session.id)
        if isinstance(previous, Connection):
            previous.supersede()
        dispatcher.links[session.id] = connection
        timers = asyncio.create_task(connection.run_timers())
        await connection.read()
    except ConnectionError:
        pass  # gone before or while reading: ended below like any drop
    finally:
        if timers is not None:
            timers.cancel()
        connection.ended()
    return ws
