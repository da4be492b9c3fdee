"""The EventSub WebSocket endpoint over real sockets: welcome, timers, close codes, reconnect."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools

import aiohttp
import orjson
import pytest
import websockets

from kiss.eventsub.messages import parse_message
from kiss.eventsub.timestamps import parse_timestamp
from kiss.simulator import Simulator, SimulatorConfig
from tests.simulator.conftest import Api, connect, receive, receive_type
from tests.waiting import TIME_UNIT
from tests.waiting import wait_for_async as wait_for

CHAT = {"broadcaster_user_id": "1001", "user_id": "1001"}


async def closed_code(ws: websockets.ClientConnection, within: float = 5.0) -> int | None:
    """Read until the server closes; its close code."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), within)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def subscribed_session(
    api: Api, user_id: str = "1001"
) -> tuple[websockets.ClientConnection, str, str]:
    """A socket with one stream.online subscription: (socket, session id, subscription id)."""
    token = await api.token(user_id)  # first: the subscribe window is short in these tests
    ws, welcome = await connect(api.sim.ws_url)
    session_id = welcome["payload"]["session"]["id"]
    status, body = await api.subscribe(
        token,
        "stream.online",
        {"broadcaster_user_id": user_id},
        {"method": "websocket", "session_id": session_id},
    )
    assert status == 202, body
    return ws, session_id, body["data"][0]["id"]


async def test_welcome_is_twitch_shaped(sim: Simulator) -> None:
    ws, welcome = await connect(sim.ws_url)
    await ws.close()
    message = parse_message(orjson.dumps(welcome))
    session = welcome["payload"]["session"]
    assert session["status"] == "connected"
    assert session["keepalive_timeout_seconds"] == 10
    assert session["reconnect_url"] is None and session["recovery_url"] is None
    assert len(welcome["metadata"]["message_timestamp"].split(".")[1]) == 10  # 9 digits + Z
    assert "subscription_type" not in welcome["metadata"]
    assert message.metadata.message_type == "session_welcome"


@pytest.mark.parametrize(("asked", "given"), [("1", 10), ("30", 30), ("1000", 600), ("x", 10)])
async def test_keepalive_is_clamped_to_10_600(sim: Simulator, asked: str, given: int) -> None:
    ws, welcome = await connect(f"{sim.ws_url}?keepalive_timeout_seconds={asked}")
    await ws.close()
    assert welcome["payload"]["session"]["keepalive_timeout_seconds"] == given


async def test_keepalive_arrives_before_the_window_ends(config: SimulatorConfig) -> None:
    config = dataclasses.replace(config, subscribe_window=1000)
    async with Simulator(config) as sim:
        ws, welcome = await connect(f"{sim.ws_url}?keepalive_timeout_seconds=30")
        sent = [parse_timestamp(welcome["metadata"]["message_timestamp"])]
        for _ in range(2):
            message = await receive(ws)
            assert message["metadata"]["message_type"] == "session_keepalive"
            assert message["payload"] == {}
            sent.append(parse_timestamp(message["metadata"]["message_timestamp"]))
        await ws.close()
    gaps = [later - earlier for earlier, later in itertools.pairwise(sent)]
    assert all(gap < 30 * TIME_UNIT for gap in gaps), gaps  # each before the 30 s window ends


async def test_inbound_text_closes_with_4001(sim: Simulator) -> None:
    ws, _ = await connect(sim.ws_url)
    await ws.send("hello")
    assert await closed_code(ws) == 4001


async def test_unanswered_pings_close_with_4002(config: SimulatorConfig) -> None:
    config = dataclasses.replace(config, subscribe_window=1000, min_pong_timeout=0.1)
    async with Simulator(config) as sim, aiohttp.ClientSession() as http:
        ws = await http.ws_connect(sim.ws_url, autoping=False)
        pinged = False
        while True:
            message = await asyncio.wait_for(ws.receive(), 5)
            if message.type is aiohttp.WSMsgType.PING:
                pinged = True
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
        assert pinged
        assert ws.close_code == 4002


async def test_answered_pings_keep_the_socket_open(config: SimulatorConfig) -> None:
    config = dataclasses.replace(config, subscribe_window=1000, min_pong_timeout=0.5)
    async with Simulator(config) as sim:
        ws, _ = await connect(sim.ws_url, ping_interval=None)
        await asyncio.sleep(1.0)  # ten ping/pong rounds; an unanswered ping would close it
        assert ws.state is websockets.State.OPEN
        await ws.close()


async def test_no_subscription_in_time_closes_with_4003(sim: Simulator) -> None:
    ws, _ = await connect(sim.ws_url)
    assert await closed_code(ws) == 4003


async def test_notifications_reach_only_the_bound_session(sim: Simulator, api: Api) -> None:
    ws_a, session_a, sub_a = await subscribed_session(api, "1001")
    ws_b, _, _ = await subscribed_session(api, "2002")
    result = await api.control(
        "POST", "/trigger", {"type": "stream.online", "broadcaster_user_id": "1001"}
    )
    assert result["sent"] == 1
    note = await receive_type(ws_a, "notification")
    assert note["metadata"]["message_id"] == result["message_ids"][0]
    assert note["metadata"]["subscription_type"] == "stream.online"
    assert note["payload"]["subscription"]["id"] == sub_a
    assert note["payload"]["subscription"]["transport"] == {
        "method": "websocket",
        "session_id": session_a,
    }
    assert note["payload"]["event"]["broadcaster_user_id"] == "1001"
    assert sim.state.stats.by_session.get(session_a) == 1
    assert sum(sim.state.stats.by_session.values()) == 1
    await ws_a.close()
    await ws_b.close()


async def test_exact_event_is_sent_as_given(api: Api) -> None:
    ws, _, _ = await subscribed_session(api, "1001")
    event = {
        "id": "42",
        "broadcaster_user_id": "1001",
        "type": "live",
        "started_at": "2024-01-01T00:00:00Z",
    }
    await api.control(
        "POST", "/trigger", {"type": "stream.online", "broadcaster_user_id": "1001", "event": event}
    )
    note = await receive_type(ws, "notification")
    assert note["payload"]["event"] == event
    await ws.close()


async def test_reconnect_carries_session_and_subscriptions(sim: Simulator, api: Api) -> None:
    old, session_id, sub_id = await subscribed_session(api)
    answer = await api.control("POST", f"/sessions/{session_id}/reconnect")
    message = await receive_type(old, "session_reconnect")
    session = message["payload"]["session"]
    assert session["reconnect_url"] == answer["reconnect_url"]
    assert session["id"] == session_id and session["status"] == "reconnecting"
    assert session["keepalive_timeout_seconds"] is None
    new, welcome = await connect(session["reconnect_url"])
    assert welcome["payload"]["session"]["id"] == session_id
    await old.close()
    await api.control("POST", "/trigger", {"type": "stream.online", "broadcaster_user_id": "1001"})
    note = await receive_type(new, "notification")
    assert note["payload"]["subscription"]["id"] == sub_id
    assert sim.state.subscriptions[sub_id].status == "enabled"
    await asyncio.sleep(35 * TIME_UNIT)  # past the grace: the handed-over session must stay
    assert sim.state.subscriptions[sub_id].status == "enabled"
    await new.close()


async def test_old_socket_delivers_until_the_new_welcome(api: Api) -> None:
    old, session_id, _ = await subscribed_session(api)
    await api.control("POST", f"/sessions/{session_id}/reconnect")
    await receive_type(old, "session_reconnect")
    await api.control("POST", "/trigger", {"type": "stream.online", "broadcaster_user_id": "1001"})
    assert (await receive_type(old, "notification"))["payload"]["event"][
        "broadcaster_user_id"
    ] == "1001"
    await old.close()


async def test_reconnect_not_taken_in_grace_closes_with_4004(sim: Simulator, api: Api) -> None:
    ws, session_id, sub_id = await subscribed_session(api)
    await api.control("POST", f"/sessions/{session_id}/reconnect")
    assert await closed_code(ws) == 4004
    sub = sim.state.subscriptions[sub_id]
    assert sub.status == "websocket_failed_to_reconnect"
    assert sub.disconnected_at is not None


async def test_old_socket_left_open_after_handover_gets_4004(sim: Simulator, api: Api) -> None:
    old, session_id, sub_id = await subscribed_session(api)
    url = (await api.control("POST", f"/sessions/{session_id}/reconnect"))["reconnect_url"]
    new, _ = await connect(url)
    assert await closed_code(old) == 4004
    assert sim.state.subscriptions[sub_id].status == "enabled"
    await new.close()


async def test_used_reconnect_url_closes_with_4007(api: Api) -> None:
    old, session_id, _ = await subscribed_session(api)
    url = (await api.control("POST", f"/sessions/{session_id}/reconnect"))["reconnect_url"]
    new, _ = await connect(url)
    again = await websockets.connect(url)
    assert await closed_code(again) == 4007
    await old.close()
    await new.close()


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (4000, "websocket_internal_error"),
        (4001, "websocket_received_inbound_traffic"),
        (4002, "websocket_failed_ping_pong"),
        (4003, "websocket_connection_unused"),
        (4004, "websocket_failed_to_reconnect"),
        (4005, "websocket_network_timeout"),
        (4006, "websocket_network_error"),
        (4007, "websocket_disconnected"),
    ],
)
async def test_close_code_disables_subscriptions_with_its_status(
    api: Api, code: int, status: str
) -> None:
    ws, session_id, sub_id = await subscribed_session(api)
    await api.control("POST", f"/sessions/{session_id}/close", {"code": code})
    assert await closed_code(ws) == code
    token = await api.token("1001")
    _, listed, _ = await api.helix("GET", "/eventsub/subscriptions", token)
    [sub] = [s for s in listed["data"] if s["id"] == sub_id]
    assert sub["status"] == status
    assert sub["transport"]["disconnected_at"]


async def test_disabled_subscriptions_are_forgotten_after_retention(
    sim: Simulator, api: Api
) -> None:
    ws, session_id, sub_id = await subscribed_session(api)
    await api.control("POST", f"/sessions/{session_id}/close", {"code": 4006})
    await closed_code(ws)
    assert sub_id in sim.state.subscriptions
    await wait_for(lambda: sub_id not in sim.state.subscriptions)


async def test_client_close_disables_with_websocket_disconnected(sim: Simulator, api: Api) -> None:
    ws, _, sub_id = await subscribed_session(api)
    await ws.close()
    await wait_for(lambda: sim.state.subscriptions[sub_id].status == "websocket_disconnected")


async def test_revocation_is_sent_once_with_the_reason(sim: Simulator, api: Api) -> None:
    ws, _, sub_id = await subscribed_session(api)
    await api.control("POST", f"/subscriptions/{sub_id}/revoke", {"reason": "user_removed"})
    message = await receive_type(ws, "revocation")
    assert message["metadata"]["subscription_type"] == "stream.online"
    assert message["payload"]["subscription"]["status"] == "user_removed"
    assert "event" not in message["payload"]
    assert sim.state.subscriptions[sub_id].status == "user_removed"
    result = await api.control(
        "POST", "/trigger", {"type": "stream.online", "broadcaster_user_id": "1001"}
    )
    assert result["sent"] == 0
    await ws.close()


async def test_closing_the_old_socket_before_dialing_gets_4007(sim: Simulator, api: Api) -> None:
    old, session_id, sub_id = await subscribed_session(api)
    url = (await api.control("POST", f"/sessions/{session_id}/reconnect"))["reconnect_url"]
    await old.close()
    await wait_for(lambda: sim.state.subscriptions[sub_id].status == "websocket_disconnected")
    late = await websockets.connect(url)
    assert await closed_code(late) == 4007


async def test_drop_cuts_the_connection_without_a_close_frame(sim: Simulator, api: Api) -> None:
    ws, session_id, sub_id = await subscribed_session(api)
    await api.control("POST", f"/sessions/{session_id}/drop")
    with pytest.raises(websockets.ConnectionClosedError) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is None  # no close frame: the client sees 1006
    assert sim.state.subscriptions[sub_id].status == "websocket_network_error"


async def test_silence_stops_keepalives_and_notifications(config: SimulatorConfig) -> None:
    async with Simulator(dataclasses.replace(config, subscribe_window=1000)) as sim:
        ws, welcome = await connect(sim.ws_url)
        session_id = welcome["payload"]["session"]["id"]
        sim.dispatcher.silence(session_id, True)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 30 * TIME_UNIT)  # three keepalive windows of nothing
        sim.dispatcher.silence(session_id, False)
        assert (await receive(ws))["metadata"]["message_type"] == "session_keepalive"
        assert ws.state is websockets.State.OPEN
        await ws.close()


async def test_silenced_session_drops_notifications(sim: Simulator, api: Api) -> None:
    ws, session_id, _ = await subscribed_session(api)
    await api.control("POST", f"/sessions/{session_id}/silence", {"silent": True})
    result = await api.control(
        "POST", "/trigger", {"type": "stream.online", "broadcaster_user_id": "1001"}
    )
    assert result["sent"] == 0 and sim.state.stats.notifications_dropped == 1
    await api.control("POST", f"/sessions/{session_id}/silence", {"silent": False})
    result = await api.control(
        "POST", "/trigger", {"type": "stream.online", "broadcaster_user_id": "1001"}
    )
    assert result["sent"] == 1
    await receive_type(ws, "notification")
    await ws.close()
