"""Conduits and shards over real HTTP and WebSockets: CRUD, binding, routing, retry, drop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets

from kiss.simulator import Simulator, SimulatorConfig
from kiss.simulator.twitch.routing import shard_index
from tests.simulator.conftest import Api, connect, receive_type
from tests.waiting import TIME_UNIT
from tests.waiting import wait_for_async as wait_for

Sockets = list[websockets.ClientConnection]

CONDUITS = "/eventsub/conduits"
SHARDS = "/eventsub/conduits/shards"


@pytest.fixture
def config() -> SimulatorConfig:
    return SimulatorConfig(time_unit=TIME_UNIT, subscribe_window=1000)


@pytest.fixture
async def sockets() -> AsyncIterator[list[websockets.ClientConnection]]:
    opened: list[websockets.ClientConnection] = []
    yield opened
    for ws in opened:
        await ws.close()


async def new_conduit(api: Api, token: str, shard_count: int) -> str:
    status, body, _ = await api.helix("POST", CONDUITS, token, json={"shard_count": shard_count})
    assert status == 200, body
    return str(body["data"][0]["id"])


async def bind(
    api: Api, token: str, conduit_id: str, sockets: Sockets, shard_ids: list[str]
) -> dict[str, websockets.ClientConnection]:
    """Open one socket per shard id and bind it; shard id -> socket."""
    bound = {}
    shards = []
    for shard_id in shard_ids:
        ws, welcome = await connect(api.sim.ws_url)
        sockets.append(ws)
        bound[shard_id] = ws
        shards.append(
            {
                "id": shard_id,
                "transport": {
                    "method": "websocket",
                    "session_id": welcome["payload"]["session"]["id"],
                },
            }
        )
    status, body, _ = await api.helix(
        "PATCH", SHARDS, token, json={"conduit_id": conduit_id, "shards": shards}
    )
    assert status == 202 and body["errors"] == [], body
    return bound


async def conduit_sub(api: Api, token: str, conduit_id: str, channel: str) -> dict[str, Any]:
    status, body = await api.subscribe(
        token,
        "stream.online",
        {"broadcaster_user_id": channel},
        {"method": "conduit", "conduit_id": conduit_id},
    )
    assert status == 202, body
    return dict(body["data"][0])


def channel_for_shard(shard: int, count: int) -> str:
    return next(str(c) for c in range(1000, 100000) if shard_index(str(c), count) == shard)


async def test_create_get_update_delete(api: Api) -> None:
    token = await api.token()
    conduit_id = await new_conduit(api, token, 2)
    status, body, headers = await api.helix("GET", CONDUITS, token)
    assert status == 200 and body["data"] == [{"id": conduit_id, "shard_count": 2}]
    assert "Ratelimit-Remaining" in headers
    status, body, _ = await api.helix(
        "PATCH", CONDUITS, token, json={"id": conduit_id, "shard_count": 5}
    )
    assert status == 200 and body["data"][0]["shard_count"] == 5
    _, shards, _ = await api.helix("GET", SHARDS, token, params={"conduit_id": conduit_id})
    assert [s["id"] for s in shards["data"]] == ["0", "1", "2", "3", "4"]
    assert (await api.helix("DELETE", CONDUITS, token, params={"id": conduit_id}))[0] == 204
    assert (await api.helix("DELETE", CONDUITS, token, params={"id": conduit_id}))[0] == 404
    assert (await api.helix("GET", CONDUITS, token))[1]["data"] == []


async def test_conduit_rules(api: Api) -> None:
    token = await api.token()
    for bad in (0, 20_001, "3"):
        assert (await api.helix("POST", CONDUITS, token, json={"shard_count": bad}))[0] == 400
    assert (await api.helix("GET", CONDUITS, await api.token("1")))[0] == 401
    for _ in range(5):
        await new_conduit(api, token, 1)
    status, body, _ = await api.helix("POST", CONDUITS, token, json={"shard_count": 1})
    assert (status, body["message"]) == (429, "conduit limit reached")
    status, _, _ = await api.helix(
        "PATCH", CONDUITS, token, json={"id": "missing", "shard_count": 1}
    )
    assert status == 404


async def test_shard_binding_answers_202_with_per_shard_errors(api: Api, sockets: Sockets) -> None:
    token = await api.token()
    conduit_id = await new_conduit(api, token, 2)
    ws, welcome = await connect(api.sim.ws_url)
    sockets.append(ws)
    session_id = welcome["payload"]["session"]["id"]
    body = {
        "conduit_id": conduit_id,
        "shards": [
            {"id": "0", "transport": {"method": "websocket", "session_id": session_id}},
            {"id": "1", "transport": {"method": "websocket", "session_id": "gone"}},
            {"id": "9", "transport": {"method": "websocket", "session_id": session_id}},
        ],
    }
    status, answer, _ = await api.helix("PATCH", SHARDS, token, json=body)
    assert status == 202
    assert [s["id"] for s in answer["data"]] == ["0"]
    assert answer["data"][0]["status"] == "enabled"
    assert answer["data"][0]["transport"]["session_id"] == session_id
    assert {e["id"]: e["message"] for e in answer["errors"]} == {
        "1": "The websocket session is not connected",
        "9": "The shard id is outside of the conduit's range",
    }
    _, enabled, _ = await api.helix(
        "GET", SHARDS, token, params={"conduit_id": conduit_id, "status": "enabled"}
    )
    assert [s["id"] for s in enabled["data"]] == ["0"]


async def test_bound_session_is_used_unbound_gets_4003(
    config: SimulatorConfig, sockets: Sockets
) -> None:
    import dataclasses

    import aiohttp

    async with (
        Simulator(dataclasses.replace(config, subscribe_window=10, time_unit=0.1)) as sim,
        aiohttp.ClientSession() as http,
    ):
        api = Api(sim, http)
        token = await api.token()
        conduit_id = await new_conduit(api, token, 1)
        [ws] = (await bind(api, token, conduit_id, sockets, ["0"])).values()
        idle, _ = await connect(sim.ws_url)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await idle.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4003
        assert ws.state is websockets.State.OPEN


async def test_shard_disabled_when_its_socket_drops_subscriptions_stay(
    sim: Simulator, api: Api, sockets: Sockets
) -> None:
    token = await api.token()
    conduit_id = await new_conduit(api, token, 1)
    [ws] = (await bind(api, token, conduit_id, sockets, ["0"])).values()
    sub = await conduit_sub(api, token, conduit_id, "1001")
    await ws.close()

    async def shard_status() -> bool:
        _, shards, _ = await api.helix("GET", SHARDS, token, params={"conduit_id": conduit_id})
        shard = shards["data"][0]
        return bool(
            shard["status"] == "websocket_disconnected"
            and shard["transport"].get("disconnected_at")
        )

    await wait_for(shard_status)
    assert sim.state.subscriptions[sub["id"]].status == "enabled"


async def test_channel_routes_to_one_shard_then_retries_on_the_next(
    sim: Simulator, api: Api, sockets: Sockets
) -> None:
    token = await api.token()
    conduit_id = await new_conduit(api, token, 3)
    bound = await bind(api, token, conduit_id, sockets, ["0", "1", "2"])
    channel = channel_for_shard(0, 3)
    await conduit_sub(api, token, conduit_id, channel)
    result = await api.control(
        "POST", "/trigger", {"type": "stream.online", "broadcaster_user_id": channel, "count": 3}
    )
    assert result["sent"] == 3
    for _ in range(3):
        note = await receive_type(bound["0"], "notification")
        assert note["payload"]["subscription"]["transport"] == {
            "method": "conduit",
            "conduit_id": conduit_id,
        }
    session_0 = next(s.id for s in sim.state.sessions.values() if s.shard == (conduit_id, "0"))
    assert sim.state.stats.by_session == {session_0: 3}
    await bound["0"].close()
    await wait_for(lambda: not sim.state.conduits[conduit_id].shards[0].enabled)
    result = await api.control(
        "POST", "/trigger", {"type": "stream.online", "broadcaster_user_id": channel}
    )
    assert result["sent"] == 1
    note = await receive_type(bound["1"], "notification")
    assert note["payload"]["event"]["broadcaster_user_id"] == channel


async def test_event_dropped_when_shard_and_retry_shard_are_disabled(
    sim: Simulator, api: Api, sockets: Sockets
) -> None:
    token = await api.token()
    conduit_id = await new_conduit(api, token, 3)
    bound = await bind(api, token, conduit_id, sockets, ["0", "1", "2"])
    channel = channel_for_shard(0, 3)
    await conduit_sub(api, token, conduit_id, channel)
    await bound["0"].close()
    await bound["1"].close()
    await wait_for(lambda: not any(s.enabled for s in sim.state.conduits[conduit_id].shards[:2]))
    result = await api.control(
        "POST", "/trigger", {"type": "stream.online", "broadcaster_user_id": channel}
    )
    assert result["sent"] == 0
    assert sim.state.stats.notifications_dropped == 1


async def test_rebinding_a_fresh_session_restores_delivery(
    sim: Simulator, api: Api, sockets: Sockets
) -> None:
    token = await api.token()
    conduit_id = await new_conduit(api, token, 1)
    [old] = (await bind(api, token, conduit_id, sockets, ["0"])).values()
    await conduit_sub(api, token, conduit_id, "1001")
    await old.close()
    await wait_for(lambda: not sim.state.conduits[conduit_id].shards[0].enabled)
    [new] = (await bind(api, token, conduit_id, sockets, ["0"])).values()
    result = await api.control(
        "POST", "/trigger", {"type": "stream.online", "broadcaster_user_id": "1001"}
    )
    assert result["sent"] == 1
    await receive_type(new, "notification")


async def test_deleting_a_conduit_disables_its_subscriptions(sim: Simulator, api: Api) -> None:
    token = await api.token()
    conduit_id = await new_conduit(api, token, 1)
    sub = await conduit_sub(api, token, conduit_id, "1001")
    assert sub["transport"] == {"method": "conduit", "conduit_id": conduit_id}
    await api.helix("DELETE", CONDUITS, token, params={"id": conduit_id})
    _, listed, _ = await api.helix("GET", "/eventsub/subscriptions", token)
    assert [s["status"] for s in listed["data"]] == ["conduit_deleted"]


async def test_conduit_chat_needs_bot_and_channel_grants(api: Api) -> None:
    token = await api.token()
    conduit_id = await new_conduit(api, token, 1)
    transport = {"method": "conduit", "conduit_id": conduit_id}
    condition = {"broadcaster_user_id": "1001", "user_id": "9000"}
    status, _ = await api.subscribe(token, "channel.chat.message", condition, transport)
    assert status == 403
    grant = {"client_id": "kiss-demo-client"}
    await api.control(
        "POST",
        "/authorizations",
        {**grant, "user_id": "9000", "scopes": ["user:read:chat", "user:bot"]},
    )
    status, _ = await api.subscribe(token, "channel.chat.message", condition, transport)
    assert status == 403  # the broadcaster has not granted channel:bot yet
    await api.control(
        "POST", "/authorizations", {**grant, "user_id": "1001", "scopes": ["channel:bot"]}
    )
    status, body = await api.subscribe(token, "channel.chat.message", condition, transport)
    assert status == 202 and body["data"][0]["cost"] == 0 and body["max_total_cost"] == 10_000


async def test_conduit_subscriptions_listed_for_the_app_token(api: Api) -> None:
    token = await api.token()
    conduit_id = await new_conduit(api, token, 1)
    sub = await conduit_sub(api, token, conduit_id, "1001")
    _, listed, _ = await api.helix(
        "GET", "/eventsub/subscriptions", token, params={"conduit_id": conduit_id}
    )
    assert [s["id"] for s in listed["data"]] == [sub["id"]]
    assert listed["total_cost"] == 1


async def test_shard_disabled_is_announced(sim: Simulator, api: Api, sockets: Sockets) -> None:
    token = await api.token()
    conduit_id = await new_conduit(api, token, 2)
    bound = await bind(api, token, conduit_id, sockets, ["0", "1"])
    condition = {"client_id": "kiss-demo-client", "conduit_id": conduit_id}
    transport = {"method": "conduit", "conduit_id": conduit_id}
    status, body = await api.subscribe(token, "conduit.shard.disabled", condition, transport)
    assert status == 202, body
    watcher = bound["1"] if shard_index("kiss-demo-client", 2) == 1 else bound["0"]
    dropped = bound["0"] if watcher is bound["1"] else bound["1"]
    await dropped.close()
    note = await receive_type(watcher, "notification")
    event = note["payload"]["event"]
    assert event["conduit_id"] == conduit_id and event["status"] == "websocket_disconnected"
    assert event["shard_id"] == ("0" if dropped is bound["0"] else "1")
    assert event["transport"]["disconnected_at"]


async def test_conduit_with_all_shards_disabled_expires(
    config: SimulatorConfig, sockets: Sockets
) -> None:
    import dataclasses

    import aiohttp

    idle = dataclasses.replace(config, conduit_idle_lifetime=10)  # 72 h on Twitch
    async with Simulator(idle) as sim, aiohttp.ClientSession() as http:
        api = Api(sim, http)
        token = await api.token()
        conduit_id = await new_conduit(api, token, 1)
        [ws] = (await bind(api, token, conduit_id, sockets, ["0"])).values()
        sub = await conduit_sub(api, token, conduit_id, "1001")
        await asyncio.sleep(20 * TIME_UNIT)  # twice the lifetime with a live shard: kept
        assert conduit_id in sim.state.conduits
        await ws.close()
        await wait_for(lambda: conduit_id not in sim.state.conduits)
        assert sim.state.subscriptions[sub["id"]].status == "conduit_deleted"


async def test_the_query_string_forms_twitchio_sends(api: Api, sockets: Sockets) -> None:
    """POST ?shard_count=, PATCH ?id=&shard_count=, PATCH shards?conduit_id= (issue 13)."""
    token = await api.token()
    status, body, _ = await api.helix("POST", CONDUITS, token, params={"shard_count": "2"})
    assert status == 200 and body["data"][0]["shard_count"] == 2, body
    conduit_id = body["data"][0]["id"]
    status, body, _ = await api.helix(
        "PATCH", CONDUITS, token, params={"id": conduit_id, "shard_count": "3"}
    )
    assert status == 200 and body["data"] == [{"id": conduit_id, "shard_count": 3}], body
    ws, welcome = await connect(api.sim.ws_url)
    sockets.append(ws)
    transport = {"method": "websocket", "session_id": welcome["payload"]["session"]["id"]}
    status, body, _ = await api.helix(
        "PATCH",
        SHARDS,
        token,
        params={"conduit_id": conduit_id},
        json={"shards": [{"id": "2", "transport": transport}]},
    )
    assert status == 202 and body["errors"] == [] and body["data"][0]["id"] == "2", body


async def test_query_string_errors_name_the_problem(api: Api) -> None:
    token = await api.token()
    for params, message in [
        ({"shard_count": "two"}, "shard_count must be an integer"),
        ({"shard_count": "0"}, "shard_count must be between 1 and"),
    ]:
        status, body, _ = await api.helix("POST", CONDUITS, token, params=params)
        assert status == 400 and body["message"].startswith(message), body
    status, body, _ = await api.helix("PATCH", SHARDS, token, params={"conduit_id": "nope"})
    assert (status, body["message"]) == (404, "conduit not found"), body
    # The JSON body still wins where both are given.
    status, body, _ = await api.helix(
        "POST", CONDUITS, token, params={"shard_count": "9"}, json={"shard_count": 1}
    )
    assert status == 200 and body["data"][0]["shard_count"] == 1
