"""The push socket over a real WebSocket server: order, early messages, fragments, pausing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.typing import BytesLike

from kiss.listener.refusals import Refusals
from kiss.listener.socket import websocket_dialer
from tests.listener.simulated import eventually

MESSAGES = [f'{{"n": {n}}}' for n in range(50)]


class Talker:
    """Sends the first half at once, the rest (after a fragmented message) when told to."""

    def __init__(self) -> None:
        self.more = asyncio.Event()

    async def __call__(self, connection: ServerConnection) -> None:
        for message in MESSAGES[:25]:
            await connection.send(message)
        await self.more.wait()
        await connection.send(iter(['{"frag', 'mented": ', "true}"]))  # one message, 3 frames
        for message in MESSAGES[25:]:
            await connection.send(message)
        await connection.wait_closed()


@pytest.fixture
def talker() -> Talker:
    return Talker()


@pytest.fixture
async def server(talker: Talker) -> AsyncIterator[Server]:
    async with serve(talker, "127.0.0.1", 0) as running:
        yield running


async def test_messages_arrive_in_order_including_those_before_attach(
    server: Server, talker: Talker
) -> None:
    port = server.sockets[0].getsockname()[1]
    connection = await websocket_dialer()(f"ws://127.0.0.1:{port}/")
    # The server's first messages land before anyone attaches: they are kept.
    await eventually(lambda: len(connection._early or []) >= 25)
    got: list[bytes] = []

    def take(messages: list[BytesLike]) -> None:
        got.extend(bytes(message) for message in messages)

    connection.attach(take)
    talker.more.set()
    await eventually(lambda: len(got) == 51)
    expected = [m.encode() for m in MESSAGES[:25]] + [b'{"fragmented": true}']
    assert got == expected + [m.encode() for m in MESSAGES[25:]]
    await connection.close()


async def test_a_paused_socket_reads_nothing_until_resumed(server: Server, talker: Talker) -> None:
    port = server.sockets[0].getsockname()[1]
    connection = await websocket_dialer()(f"ws://127.0.0.1:{port}/")
    got: list[bytes] = []

    def take_one_then_pause(messages: list[BytesLike]) -> None:
        got.extend(bytes(message) for message in messages)
        connection.pause_reading()

    connection.attach(take_one_then_pause)
    await eventually(lambda: len(got) > 0)
    seen = len(got)
    talker.more.set()
    await asyncio.sleep(0.1)  # a window in which a socket still reading would have read more
    assert len(got) == seen
    connection.attach(lambda messages: got.extend(bytes(m) for m in messages))
    connection.resume_reading()
    await eventually(lambda: len(got) == 51)
    await connection.close()


async def test_messages_larger_than_a_read_arrive_whole_and_in_order() -> None:
    big = ['{"text": "' + str(n) * 600_000 + '"}' for n in range(3)]  # several reads each

    async def send_big(connection: ServerConnection) -> None:
        for message in big:
            await connection.send(message)
        await connection.wait_closed()

    async with serve(send_big, "127.0.0.1", 0) as running:
        port = running.sockets[0].getsockname()[1]
        connection = await websocket_dialer()(f"ws://127.0.0.1:{port}/")
        got: list[bytes] = []
        connection.attach(lambda messages: got.extend(bytes(m) for m in messages))
        await eventually(lambda: len(got) == len(big))
        assert got == [message.encode() for message in big]
        await connection.close()


async def test_binary_messages_are_refused_and_the_text_around_them_kept() -> None:
    """Twitch sends text frames only: a binary message, whole or fragmented, is counted and
    never handed over; the socket stays open and the text frames around it arrive in order."""

    go = asyncio.Event()

    async def send_mixed(connection: ServerConnection) -> None:
        await go.wait()
        await connection.send('{"n": 1}')
        await connection.send(b'{"n": "binary"}')
        await connection.send(iter([b'{"frag', b'mented": ', b'"binary"}']))  # 3 binary frames
        await connection.send('{"n": 2}')
        await connection.wait_closed()

    async with serve(send_mixed, "127.0.0.1", 0) as running:
        port = running.sockets[0].getsockname()[1]
        connection = await websocket_dialer()(f"ws://127.0.0.1:{port}/")
        refusals = Refusals()
        connection.refusals = refusals
        got: list[bytes] = []
        connection.attach(lambda messages: got.extend(bytes(m) for m in messages))
        go.set()
        await eventually(lambda: len(got) == 2)
        assert got == [b'{"n": 1}', b'{"n": 2}']
        assert refusals.counts["binary_frame"] == 2
        assert connection.close_code is None  # still open: the session goes on
        await connection.close()
