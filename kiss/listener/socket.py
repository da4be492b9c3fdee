"""The EventSub socket: websockets' client connection, handing each message over as it is parsed.

websockets' ``recv()`` queues every message in an assembler and wakes a reader task for it:
a future, a task switch and a lock per event, a third of the listener's cost at full load.
Here the connection hands the messages of each network read, as one list, to the slot's
handler, synchronously from ``data_received``. Handshake, control frames (Twitch's
pings are answered by websockets' protocol layer), closing and limits stay websockets'.

Messages that arrive before a handler is attached (the welcome can come in the handshake's
own read) are kept and handed over by ``attach``. While the handler says it is full, the
socket stops reading, so TCP pushes back on Twitch instead of memory growing.

Binary messages are refused here (counted as ``binary_frame``, never handed over): Twitch
sends text frames only (twitch-eventsub.md §1.2). The socket stays open: closing it, or any
frame but a pong, would end the session (4001), and the session's events are still good.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import Frame, Opcode
from websockets.protocol import Event
from websockets.typing import BytesLike

from kiss.listener.refusals import REFUSALS, Refusals

MAX_FRAME_BYTES = 4 * 1024 * 1024

BatchHandler = Callable[[list[BytesLike]], None]


class PushConnection(ClientConnection):
    """A client connection whose data messages go to ``handler``, one list per network read,
    instead of to ``recv()``."""

    handler: BatchHandler | None = None
    refusals: Refusals = REFUSALS
    _batch: list[BytesLike] | None = None
    _early: list[BytesLike] | None = None
    _parts: list[BytesLike] | None = None
    _in_binary = False  # inside a fragmented binary message, whose parts are skipped

    def attach(self, handler: BatchHandler) -> None:
        """Send every message to ``handler`` from now on, the ones already received first."""
        early, self._early = self._early, None
        self.handler = handler
        if early:
            handler(early)

    def pause_reading(self) -> None:
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        if not self.transport.is_closing():
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # calls process_event for each frame parsed
        self._hand_over()

    def eof_received(self) -> None:
        super().eof_received()
        self._hand_over()

    def process_event(self, event: Event) -> None:
        if self.response is None or not isinstance(event, Frame):
            super().process_event(event)  # the handshake response
            return
        opcode = event.opcode
        if opcode is Opcode.TEXT:
            if event.fin:
                self._keep(event.data)
            else:
                self._parts = [event.data]
        elif opcode is Opcode.CONT:
            if self._parts is not None:
                self._parts.append(event.data)
                if event.fin:
                    message, self._parts = b"".join(self._parts), None
                    self._keep(message)
            elif self._in_binary and event.fin:
                self._in_binary = False
                self._refuse_binary()
        elif opcode is Opcode.BINARY:
            self._parts = None
            self._in_binary = not event.fin
            if event.fin:
                self._refuse_binary()
        else:
            super().process_event(event)  # ping, pong, close

    def _refuse_binary(self) -> None:
        self.refusals.refuse("binary_frame", "a binary message (Twitch sends text frames only)")

    def _keep(self, message: BytesLike) -> None:
        if self._batch is None:
            self._batch = [message]
        else:
            self._batch.append(message)

    def _hand_over(self) -> None:
        batch, self._batch = self._batch, None
        if not batch:
            return
        if self.handler is not None:
            self.handler(batch)
        elif self._early is None:
            self._early = batch
        else:
            self._early.extend(batch)


Dial = Callable[[str], Awaitable[PushConnection]]


def websocket_dialer(time_unit: float = 1.0) -> Dial:
    """Open an EventSub socket: no client pings (Twitch treats any client frame but a pong as
    inbound traffic and closes with 4001), no compression, large frames allowed."""

    async def dial(url: str) -> PushConnection:
        connection = await connect(
            url,
            create_connection=PushConnection,
            ping_interval=None,
            compression=None,
            max_size=MAX_FRAME_BYTES,
            open_timeout=max(1.0, 10.0 * time_unit),
            close_timeout=max(0.5, 2.0 * time_unit),
            user_agent_header="kiss-eventsub-hub",
        )
        assert isinstance(connection, PushConnection)
        return connection

    return dial
