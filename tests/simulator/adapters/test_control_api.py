"""The control API over real HTTP: identities, triggers, sessions, revocations, stats, errors."""

from __future__ import annotations

import asyncio
import base64
import dataclasses

import aiohttp
import pytest

from kiss.simulator import Simulator, SimulatorConfig
from tests.simulator.conftest import Api, connect, receive_type
from tests.waiting import TIME_UNIT


@pytest.fixture
def config() -> SimulatorConfig:
    return SimulatorConfig(time_unit=TIME_UNIT, subscribe_window=1000)


async def raw(
    http: aiohttp.ClientSession, sim: Simulator, method: str, path: str, body: object = None
) -> tuple[int, dict[str, object]]:
    async with http.request(method, f"{sim.base_url}/control{path}", json=body) as response:
        return response.status, await response.json()


async def test_clients_users_tokens_authorizations(sim: Simulator, api: Api) -> None:
    client = await api.control("POST", "/clients", {})
    assert client["client_id"] in sim.state.identity.clients and client["client_secret"]
    named = await api.control(
        "POST", "/clients", {"client_id": "bot-client", "client_secret": "s3cret-s3cret"}
    )
    assert named == {"client_id": "bot-client", "client_secret": "s3cret-s3cret"}
    user = await api.control("POST", "/users", {"login": "KissBot"})
    assert user["login"] == "kissbot" and user["user_id"].isdigit()
    assert (await api.control("POST", "/users", {"login": "kissbot"}))["user_id"] == user["user_id"]
    app = await api.control("POST", "/tokens", {"client_id": "bot-client", "scopes": []})
    assert app["refresh_token"] is None and app["user_id"] is None and app["expires_in"] > 0
    minted = await api.control(
        "POST",
        "/tokens",
        {"client_id": "bot-client", "user_id": user["user_id"], "scopes": ["user:bot"]},
    )
    assert minted["refresh_token"] and minted["user_id"] == user["user_id"]
    assert sim.state.identity.granted("bot-client", user["user_id"]) == {"user:bot"}
    grant = await api.control(
        "POST",
        "/authorizations",
        {"client_id": "bot-client", "user_id": "77", "scopes": ["channel:bot"]},
    )
    assert grant["scopes"] == ["channel:bot"]


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/tokens", {"client_id": "unknown", "scopes": []}, "invalid client"),
        (
            "/tokens",
            {"client_id": "kiss-demo-client", "scopes": "a b", "expires_in": -1},
            "expires_in",
        ),
        ("/users", {}, "login"),
        ("/trigger", {"type": "no.such.type"}, "unknown subscription type"),
        ("/trigger", {"type": "stream.online", "count": 0}, "count"),
        ("/trigger", {"type": "stream.online", "event": [1]}, "event"),
        ("/load", {"rate": -1, "total": 1}, "rate"),
        ("/load", {"rate": 1}, "total"),
        ("/faults", {"path_prefix": "helix"}, "path_prefix"),
        ("/faults", {"path_prefix": "/helix", "kind": "boom"}, "kind"),
        ("/sessions/none/close", {"code": 4000}, "not connected"),
        ("/sessions/none/reconnect", {}, "not connected"),
        ("/sessions/none/drop", {}, "not connected"),
        ("/sessions/none/silence", {"silent": "yes"}, "silent must be"),
        ("/subscriptions/none/revoke", {"reason": "user_removed"}, "not found"),
        ("/tokens/expire", {"access_token": "nope"}, "unknown access_token"),
    ],
)
async def test_bad_control_calls_name_the_problem(
    sim: Simulator, http: aiohttp.ClientSession, path: str, body: object, words: str
) -> None:
    status, answer = await raw(http, sim, "POST", path, body)
    assert status in (400, 404)
    assert words in str(answer["message"])


async def test_malformed_json_is_400(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{sim.base_url}/control/trigger", data=b"{not json") as response:
        assert response.status == 400
        assert "not valid JSON" in (await response.json())["message"]


async def test_trigger_by_condition_and_count(sim: Simulator, api: Api) -> None:
    ws, welcome = await connect(sim.ws_url)
    session_id = welcome["payload"]["session"]["id"]
    token = await api.token("1001", ("moderator:read:followers",))
    transport = {"method": "websocket", "session_id": session_id}
    condition = {"broadcaster_user_id": "5", "moderator_user_id": "1001"}
    status, _ = await api.subscribe(token, "channel.follow", condition, transport, version="2")
    assert status == 202
    result = await api.control(
        "POST", "/trigger", {"type": "channel.follow", "condition": condition, "count": 2}
    )
    assert result["sent"] == 2 and len(set(result["message_ids"])) == 2
    for _ in range(2):
        note = await receive_type(ws, "notification")
        assert note["metadata"]["subscription_version"] == "2"
        assert note["payload"]["event"]["broadcaster_user_id"] == "5"
        assert note["payload"]["event"]["followed_at"]
    miss = await api.control(
        "POST", "/trigger", {"type": "channel.follow", "condition": {"broadcaster_user_id": "6"}}
    )
    assert miss["sent"] == 0
    await ws.close()


async def test_sessions_close_and_stats(sim: Simulator, api: Api) -> None:
    ws, welcome = await connect(sim.ws_url)
    session_id = welcome["payload"]["session"]["id"]
    [listed] = (await api.control("GET", "/sessions"))["data"]
    assert listed["id"] == session_id and listed["status"] == "connected"
    assert listed["keepalive_timeout_seconds"] == 10
    await api.control("POST", f"/sessions/{session_id}/close", {"code": 4005})
    stats = await api.control("GET", "/stats")
    assert stats["closes"] == {"4005": 1} and stats["sessions"] == 0
    await ws.close()


async def test_subscriptions_and_conduits_listings(sim: Simulator, api: Api) -> None:
    token = await api.token()
    _, conduit, _ = await api.helix("POST", "/eventsub/conduits", token, json={"shard_count": 2})
    conduit_id = conduit["data"][0]["id"]
    transport = {"method": "conduit", "conduit_id": conduit_id}
    status, body = await api.subscribe(
        token, "stream.online", {"broadcaster_user_id": "1"}, transport
    )
    assert status == 202
    [sub] = (await api.control("GET", "/subscriptions"))["data"]
    assert sub["id"] == body["data"][0]["id"]
    [listed] = (await api.control("GET", "/conduits"))["data"]
    assert listed["id"] == conduit_id and len(listed["shards"]) == 2


async def test_revoke_defaults_to_authorization_revoked(sim: Simulator, api: Api) -> None:
    ws, welcome = await connect(sim.ws_url)
    token = await api.token("1001")
    transport = {"method": "websocket", "session_id": welcome["payload"]["session"]["id"]}
    _, body = await api.subscribe(
        token, "stream.online", {"broadcaster_user_id": "1001"}, transport
    )
    sub_id = body["data"][0]["id"]
    await api.control("POST", f"/subscriptions/{sub_id}/revoke", {})
    message = await receive_type(ws, "revocation")
    assert message["payload"]["subscription"]["status"] == "authorization_revoked"
    assert (await api.control("GET", "/stats"))["revocations_sent"] == 1
    await ws.close()


async def test_demo_client_can_be_left_out(config: SimulatorConfig) -> None:
    async with Simulator(dataclasses.replace(config, demo_client=False)) as sim:
        assert sim.state.identity.clients == {}


async def test_redeliveries_for_dedup_tests(sim: Simulator, api: Api) -> None:
    ws, welcome = await connect(sim.ws_url)
    token = await api.token("1001")
    transport = {"method": "websocket", "session_id": welcome["payload"]["session"]["id"]}
    await api.subscribe(token, "stream.online", {"broadcaster_user_id": "1001"}, transport)
    body = {"type": "stream.online", "broadcaster_user_id": "1001"}
    resent = await api.control("POST", "/trigger", {**body, "resend": 2})
    frames = [await receive_type(ws, "notification") for _ in range(3)]
    assert {f["metadata"]["message_id"] for f in frames} == set(resent["message_ids"])
    twins = await api.control("POST", "/trigger", {**body, "twin": True})
    first, second = [await receive_type(ws, "notification") for _ in range(2)]
    assert first["metadata"]["message_id"] != second["metadata"]["message_id"]
    assert [first["metadata"]["message_id"], second["metadata"]["message_id"]] == twins[
        "message_ids"
    ]
    assert first["payload"]["event"] == second["payload"]["event"]
    for bad in ({"resend": -1}, {"resend": 11}, {"twin": "yes"}):
        async with api.http.post(
            f"{sim.base_url}/control/trigger", json={**body, **bad}
        ) as response:
            assert response.status == 400
    await ws.close()


async def test_raw_frames_reach_the_socket_as_they_are_in_order(
    sim: Simulator, api: Api, http: aiohttp.ClientSession
) -> None:
    ws, welcome = await connect(sim.ws_url)
    session_id = welcome["payload"]["session"]["id"]
    frames = [{"text": "not json @N@"}, {"binary_base64": base64.b64encode(b"\x00\xff").decode()}]
    answer = await api.control(
        "POST", f"/sessions/{session_id}/frames", {"frames": frames, "repeat": 3}
    )
    assert answer == {"sent": 6}
    got = [await asyncio.wait_for(ws.recv(), 5) for _ in range(6)]
    assert got == ["not json 0", b"\x00\xff", "not json 1", b"\x00\xff", "not json 2", b"\x00\xff"]
    status, body = await raw(http, sim, "POST", f"/sessions/{session_id}/frames", {"frames": []})
    assert status == 400 and "frames must be a non-empty list" in str(body)
    status, _ = await raw(http, sim, "POST", "/sessions/nobody/frames", {"frames": frames})
    assert status == 404
    await ws.close()
