"""The session runner over real sockets, against a small scripted EventSub server: silence,
malformed frames, a Redis away, and a clean stop (the simulator covers handovers and close
codes)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
import redis.asyncio as aioredis
from websockets.asyncio.server import ServerConnection, serve

from kiss.eventsub.session import SessionConfig, SessionMachine, Welcomed
from kiss.eventsub.timestamps import format_timestamp
from kiss.keys import Keys
from kiss.listener.backoff import Backoff
from kiss.listener.refusals import Refusals
from kiss.listener.runner import SessionRunner
from kiss.listener.writer import StreamWriter, WriterConfig
from tests.listener.simulated import eventually
from tests.redis_server import PrivateRedis

UNIT = 0.01
Script = Callable[[ServerConnection, int], Awaitable[None]]


def welcome(session_id: str) -> bytes:
    session = {"id": session_id, "status": "connected", "connected_at": format_timestamp(),
               "keepalive_timeout_seconds": 10, "reconnect_url": None}  # fmt: skip
    return orjson.dumps(
        {"metadata": {"message_id": f"w-{session_id}", "message_type": "session_welcome",
                      "message_timestamp": format_timestamp()},
         "payload": {"session": session}}
    )  # fmt: skip


def notification(message_id: str, channel: str) -> bytes:
    sub = {"id": "sub", "status": "enabled", "type": "channel.update", "version": "2", "cost": 0,
           "condition": {"broadcaster_user_id": channel}, "created_at": format_timestamp(),
           "transport": {"method": "conduit", "conduit_id": "C"}}  # fmt: skip
    return orjson.dumps(
        {"metadata": {"message_id": message_id, "message_type": "notification",
                      "message_timestamp": format_timestamp(),
                      "subscription_type": "channel.update", "subscription_version": "2"},
         "payload": {"subscription": sub, "event": {"broadcaster_user_id": channel}}}
    )  # fmt: skip


def keepalive(number: int) -> bytes:
    return orjson.dumps(
        {"metadata": {"message_id": f"k{number}", "message_type": "session_keepalive",
                      "message_timestamp": format_timestamp()}, "payload": {}}
    )  # fmt: skip


def notifications(server: PrivateRedis, keys: Keys) -> int:
    """Channel 42's notifications (a gap marker may follow once the script falls silent)."""
    client = redis.Redis.from_url(server.url)
    rows = client.xrange(keys.channel_stream("42")) or []
    client.close()
    return sum(1 for _, fields in rows if (fields or {}).get(b"kind") == b"notification")


class Recorder:
    def __init__(self) -> None:
        self.welcomed: list[Welcomed] = []
        self.lost: list[str] = []

    async def welcomed_hook(self, runner: SessionRunner, welcomed: Welcomed, prev: Any) -> None:
        self.welcomed.append(welcomed)

    async def lost_hook(self, runner: SessionRunner, session_id: str | None, reason: str) -> None:
        self.lost.append(reason)


class Hooks:
    def __init__(self, recorder: Recorder) -> None:
        self.welcomed = recorder.welcomed_hook
        self.lost = recorder.lost_hook


@pytest.fixture
async def aredis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


class BuggyWriter(StreamWriter):
    """A writer with a bug for one channel, raised while the runner handles that frame."""

    def remember(self, set_key: str, member: str) -> None:
        if member == "13":
            raise ValueError("a bug for channel 13")
        super().remember(set_key, member)


@contextlib.asynccontextmanager
async def run_against(
    script: Script,
    aredis: aioredis.Redis,
    keys: Keys,
    writer_class: type[StreamWriter] = StreamWriter,
    refusals: Refusals | None = None,
    config: WriterConfig | None = None,
) -> AsyncIterator[tuple[SessionRunner, Recorder, StreamWriter]]:
    connections = 0

    async def handler(ws: ServerConnection) -> None:
        nonlocal connections
        connections += 1
        await script(ws, connections)

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        writer = writer_class(aredis, keys, "L1", config)
        recorder = Recorder()
        machine = SessionMachine(SessionConfig(time_unit=UNIT, slack_seconds=0.1))
        runner = SessionRunner(
            "slot-1", f"ws://127.0.0.1:{port}/ws", machine, writer, keys, Hooks(recorder),
            Backoff(0.01, 0.05), refusals=refusals,
        )  # fmt: skip
        flusher = asyncio.create_task(writer.run())
        task = asyncio.create_task(runner.run())
        try:
            yield runner, recorder, writer
        finally:
            await runner.stop()
            await asyncio.wait_for(task, 10)
            await writer.close()
            flusher.cancel()


async def test_silence_past_the_keepalive_reconnects_and_marks_a_gap(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    async def script(ws: ServerConnection, number: int) -> None:
        await ws.send(welcome(f"S{number}").decode())
        if number == 1:
            await ws.send(notification("n1", "42").decode())
        await ws.wait_closed()  # silence: no keepalive until the client gives up

    async with run_against(script, aredis, keys) as (runner, recorder, writer):
        await eventually(lambda: len(recorder.welcomed) >= 2, what="a second session")
        assert [w.fresh for w in recorder.welcomed[:2]] == [True, True]
        assert recorder.lost[0] == "keepalive timeout (silence)"
        await writer.drained()
        await eventually(lambda: redis_client.xlen(keys.channel_stream("42")) == 2, what="gap")
        entries = redis_client.xrange(keys.channel_stream("42")) or []
        kinds = [(fields or {})["kind"] for _, fields in entries]
        assert kinds == ["notification", "gap"]
        assert runner.stats.reconnects >= 1


async def test_a_redis_away_for_longer_than_the_keepalive_neither_stops_reading_nor_the_session(
    keys: Keys, tmp_path: Path
) -> None:
    # Redis is not running: the writer cannot write a thing. The runner must read on (the
    # events go to the spool), so the keepalives arrive and the session is kept.
    server = PrivateRedis(str(tmp_path))
    count, keepalives = 3000, 0
    done = asyncio.Event()

    async def script(ws: ServerConnection, number: int) -> None:
        nonlocal keepalives
        await ws.send(welcome(f"S{number}").decode())
        for index in range(count):
            await ws.send(notification(f"n{index}", "42").decode())
        for index in range(20):  # 1 s of keepalives: four times the silence tolerated
            await asyncio.sleep(0.05)
            await ws.send(keepalive(index).decode())
            keepalives += 1
        done.set()
        await ws.wait_closed()

    config = WriterConfig(retry_delay_seconds=0.02, memory_entries=100, spool_directory=tmp_path)
    client = aioredis.Redis.from_url(server.url)
    try:
        async with run_against(script, client, keys, config=config) as (runner, recorder, writer):
            await asyncio.wait_for(done.wait(), 30)
            await eventually(lambda: writer.pending == count, what="every event kept")
            assert recorder.lost == [] and len(recorder.welcomed) == 1
            assert runner.phase == "active" and writer.stats.failures > 0
            server.start()
            await asyncio.wait_for(writer.drained(), 20)
            assert notifications(server, keys) == count
    finally:
        await client.aclose()
        server.stop()


async def test_a_stalled_redis_pauses_the_reading_briefly_then_the_spool_takes_over(
    keys: Keys, tmp_path: Path
) -> None:
    # Redis frozen (SIGSTOP): no error, no answer. The readers pause when the memory queue
    # is full, a pause the keepalive deadline does not count, then the spool takes over.
    server = PrivateRedis(str(tmp_path))
    server.start()
    count = 3000
    done = asyncio.Event()

    async def script(ws: ServerConnection, number: int) -> None:
        await ws.send(welcome(f"S{number}").decode())
        await done.wait()
        for index in range(count):
            await ws.send(notification(f"n{index}", "42").decode())
        for index in range(30):  # 1.5 s of keepalives: six times the silence tolerated
            await asyncio.sleep(0.05)
            await ws.send(keepalive(index).decode())
        await ws.wait_closed()

    config = WriterConfig(retry_delay_seconds=0.02, memory_entries=100, spool_directory=tmp_path)
    client = aioredis.Redis.from_url(server.url)
    assert server.process is not None
    try:
        async with run_against(script, client, keys, config=config) as (_runner, recorder, writer):
            await eventually(lambda: recorder.welcomed, what="welcome")
            server.process.send_signal(signal.SIGSTOP)
            done.set()
            await eventually(lambda: writer.pending == count, within=30, what="every event kept")
            assert writer.spool is not None and writer.spool.entries > 0
            assert recorder.lost == [] and len(recorder.welcomed) == 1
            server.process.send_signal(signal.SIGCONT)
            await asyncio.wait_for(writer.drained(), 20)
            assert notifications(server, keys) == count
    finally:
        if server.process is not None:
            server.process.send_signal(signal.SIGCONT)
        await client.aclose()
        server.stop()


async def test_malformed_frames_are_counted_and_the_session_goes_on(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    async def script(ws: ServerConnection, number: int) -> None:
        await ws.send(welcome("S1").decode())
        await ws.send("{not json")
        await ws.send(notification("n1", "7").decode())
        await ws.wait_closed()

    async with run_against(script, aredis, keys) as (runner, recorder, _writer):
        await eventually(lambda: redis_client.xlen(keys.channel_stream("7")) == 1, what="event")
        assert runner.stats.malformed == 1
        assert runner.phase == "active" and len(recorder.welcomed) == 1


async def test_a_frame_whose_handling_raises_is_contained_without_a_traceback(
    aredis: aioredis.Redis,
    redis_client: redis.Redis,
    keys: Keys,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def script(ws: ServerConnection, number: int) -> None:
        await ws.send(welcome("S1").decode())
        await ws.send(notification("n1", "7").decode())
        await ws.send(notification("n2", "13").decode())  # the bug
        await ws.send(notification("n3", "7").decode())
        await ws.wait_closed()

    refusals = Refusals()
    async with run_against(script, aredis, keys, BuggyWriter, refusals) as (runner, recorder, _):
        await eventually(lambda: redis_client.xlen(keys.channel_stream("7")) == 2, what="events")
        assert runner.phase == "active" and len(recorder.welcomed) == 1
    entries = redis_client.xrange(keys.channel_stream("7")) or []
    assert [(fields or {})["message_id"] for _, fields in entries] == ["n1", "n3"]
    assert refusals.counts["handler_error"] == 1
    assert not [record for record in caplog.records if record.exc_info]
    assert any("ValueError: a bug for channel 13 at " in r.getMessage() for r in caplog.records)


async def test_stop_closes_the_socket_cleanly(aredis: aioredis.Redis, keys: Keys) -> None:
    closed: list[int | None] = []

    async def script(ws: ServerConnection, number: int) -> None:
        await ws.send(welcome("S1").decode())
        await ws.wait_closed()
        closed.append(ws.close_code)

    async with run_against(script, aredis, keys) as (runner, recorder, _writer):
        await eventually(lambda: recorder.welcomed, what="welcome")
        started = time.monotonic()
        await runner.stop()
        await eventually(lambda: closed, what="server saw the close")
        assert closed == [1000]
        assert time.monotonic() - started < 5
