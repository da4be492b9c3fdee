"""The load generator over real sockets: rate, channels, totals, stop, and its frames."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import orjson
import pytest
import websockets

from kiss.eventsub.messages import Notification, parse_message
from kiss.eventsub.timestamps import parse_timestamp
from kiss.simulator import Simulator, SimulatorConfig
from kiss.simulator.adapters.load import parse_load
from kiss.simulator.twitch.problems import TwitchProblem
from tests.simulator.conftest import Api, connect
from tests.waiting import TIME_UNIT
from tests.waiting import wait_for_async as wait_for

BOT = "9000"


@pytest.fixture
def config() -> SimulatorConfig:
    return SimulatorConfig(time_unit=TIME_UNIT, subscribe_window=1000)


async def chat_session(api: Api, channels: list[str]) -> websockets.ClientConnection:
    ws, welcome = await connect(api.sim.ws_url)
    token = await api.token(BOT, ("user:read:chat",))
    transport = {"method": "websocket", "session_id": welcome["payload"]["session"]["id"]}
    for channel in channels:
        condition = {"broadcaster_user_id": channel, "user_id": BOT}
        assert (await api.subscribe(token, "channel.chat.message", condition, transport))[0] == 202
    return ws


async def notifications(ws: websockets.ClientConnection, count: int) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    while len(received) < count:
        message = orjson.loads(await asyncio.wait_for(ws.recv(), 5))
        if message["metadata"]["message_type"] == "notification":
            received.append(message)
    return received


async def test_load_spreads_a_total_over_channels(sim: Simulator, api: Api) -> None:
    ws = await chat_session(api, ["1", "2", "3"])
    started = await api.control("POST", "/load", {"rate": 0, "channels": 2, "total": 10})
    frames = await notifications(ws, 10)
    channels = [f["payload"]["event"]["broadcaster_user_id"] for f in frames]
    assert channels == ["1", "2"] * 5  # the first two subscribed channels, round-robin
    for frame in frames:
        parsed = parse_message(orjson.dumps(frame))
        assert isinstance(parsed, Notification)
        assert abs(parse_timestamp(parsed.metadata.message_timestamp) - time.time()) < 5
    assert len({f["metadata"]["message_id"] for f in frames}) == 10
    assert len({f["payload"]["event"]["message_id"] for f in frames}) == 10  # fresh event ids too
    load_id = started["load_id"]

    async def finished() -> bool:
        status = await api.control("GET", f"/load/{load_id}")
        return status["running"] is False

    await wait_for(finished)
    status = await api.control("GET", f"/load/{load_id}")
    assert (status["sent"], status["delivered"], status["dropped"]) == (10, 10, 0)
    assert status["finished_at"] >= status["started_at"]
    assert sim.state.stats.notifications_sent == 10
    await ws.close()


async def test_load_follows_its_rate(sim: Simulator, api: Api) -> None:
    ws = await chat_session(api, ["1"])
    load_id = (await api.control("POST", "/load", {"rate": 50, "channels": 1, "duration": 0.3}))[
        "load_id"
    ]

    async def finished() -> bool:
        return (await api.control("GET", f"/load/{load_id}"))["running"] is False

    await wait_for(finished)
    sent = (await api.control("GET", f"/load/{load_id}"))["sent"]
    assert 0 < sent <= 30  # 50/s for 0.3 s is about 15, far from "as fast as possible"
    await ws.close()


async def test_load_can_be_stopped(sim: Simulator, api: Api) -> None:
    ws = await chat_session(api, ["1"])
    load_id = (await api.control("POST", "/load", {"rate": 100, "channels": 1, "duration": 60}))[
        "load_id"
    ]
    await notifications(ws, 2)
    stopped = await api.control("DELETE", f"/load/{load_id}")
    assert stopped["running"] is False and stopped["sent"] >= 2
    await ws.close()


async def test_load_without_subscribers_counts_drops(sim: Simulator, api: Api) -> None:
    load_id = (await api.control("POST", "/load", {"rate": 0, "channels": 3, "total": 5}))[
        "load_id"
    ]

    async def finished() -> bool:
        return (await api.control("GET", f"/load/{load_id}"))["running"] is False

    await wait_for(finished)
    status = await api.control("GET", f"/load/{load_id}")
    assert (status["sent"], status["delivered"], status["dropped"]) == (5, 0, 5)


def test_parse_load_defaults_and_errors() -> None:
    run = parse_load({"rate": 10, "channels": ["a"], "duration": 1})
    assert run.topic.type == "channel.chat.message" and run.channels == ["a"]
    bad: object
    for bad in ({"channels": 0, "total": 1}, {"total": 1, "type": "nope"}, {"total": 0}, []):
        with pytest.raises(TwitchProblem):
            parse_load(bad)


async def test_load_survives_a_reconnect_handover_without_loss(sim: Simulator, api: Api) -> None:
    old = await chat_session(api, ["1"])
    session_id = next(iter(sim.state.sessions))
    load_id = (await api.control("POST", "/load", {"rate": 400, "channels": 1, "total": 200}))[
        "load_id"
    ]
    seen: set[str] = set(m["metadata"]["message_id"] for m in await notifications(old, 20))
    url = (await api.control("POST", f"/sessions/{session_id}/reconnect"))["reconnect_url"]
    new, _ = await connect(url)
    # Twitch's order: welcome on the new socket, then Twitch closes the old one (4004) after
    # what it still held. Read it to the end, as a client does (closing it ourselves while
    # frames pour in can stall the close handshake behind the client's full queue).
    with contextlib.suppress(websockets.ConnectionClosed):
        async for frame in old:
            message = orjson.loads(frame)
            if message["metadata"]["message_type"] == "notification":
                seen.add(message["metadata"]["message_id"])
    assert old.close_code == 4004

    async def finished() -> bool:
        return (await api.control("GET", f"/load/{load_id}"))["running"] is False

    await wait_for(finished)
    status = await api.control("GET", f"/load/{load_id}")
    assert (status["delivered"], status["dropped"]) == (200, 0)
    rest = await notifications(new, 200 - len(seen))
    seen.update(m["metadata"]["message_id"] for m in rest)
    assert len(seen) == 200
    await new.close()
