"""Helix EventSub subscriptions over real HTTP, with Twitch's rules, limits and rate limits."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
import websockets

from kiss.simulator import Simulator, SimulatorConfig
from tests.simulator.conftest import Api, connect
from tests.waiting import TIME_UNIT
from tests.waiting import wait_for_async as wait_for

Sockets = list[websockets.ClientConnection]

SUBS = "/eventsub/subscriptions"


@pytest.fixture
def config() -> SimulatorConfig:
    # A long subscribe window: these tests open sockets and subscribe at their own pace.
    return SimulatorConfig(time_unit=TIME_UNIT, subscribe_window=1000, page_size=2)


@pytest.fixture
async def sockets() -> AsyncIterator[list[websockets.ClientConnection]]:
    opened: list[websockets.ClientConnection] = []
    yield opened
    for ws in opened:
        await ws.close()


async def session(sim: Simulator, sockets: list[websockets.ClientConnection]) -> dict[str, str]:
    """A websocket transport for a fresh session."""
    ws, welcome = await connect(sim.ws_url)
    sockets.append(ws)
    return {"method": "websocket", "session_id": welcome["payload"]["session"]["id"]}


def chat(broadcaster: str, user: str) -> dict[str, str]:
    return {"broadcaster_user_id": broadcaster, "user_id": user}


async def test_create_answers_202_as_twitch_does(
    sim: Simulator, api: Api, sockets: Sockets
) -> None:
    transport = await session(sim, sockets)
    token = await api.token("1001")
    status, body, headers = await api.helix(
        "POST",
        SUBS,
        token,
        json={
            "type": "stream.online",
            "version": "1",
            "condition": {"broadcaster_user_id": "1001"},
            "transport": transport,
        },
    )
    assert status == 202
    [sub] = body["data"]
    assert sub["status"] == "enabled" and sub["type"] == "stream.online" and sub["version"] == "1"
    assert sub["condition"] == {"broadcaster_user_id": "1001"}
    assert sub["transport"]["session_id"] == transport["session_id"]
    assert sub["transport"]["connected_at"]
    assert sub["cost"] == 0  # 1001 authorized the client by minting its token
    assert (body["total"], body["total_cost"], body["max_total_cost"]) == (1, 0, 10)
    assert {"Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset"} <= set(headers)


async def test_cost_is_1_unless_the_condition_user_authorized(
    sim: Simulator, api: Api, sockets: Sockets
) -> None:
    transport = await session(sim, sockets)
    token = await api.token("1001")
    status, body = await api.subscribe(
        token, "stream.online", {"broadcaster_user_id": "5555"}, transport
    )
    assert status == 202 and body["data"][0]["cost"] == 1 and body["total_cost"] == 1
    await api.control(
        "POST",
        "/authorizations",
        {"client_id": "kiss-demo-client", "user_id": "6666", "scopes": []},
    )
    status, body = await api.subscribe(
        token, "stream.online", {"broadcaster_user_id": "6666"}, transport
    )
    assert status == 202 and body["data"][0]["cost"] == 0 and body["total_cost"] == 1


async def test_websocket_needs_a_user_token(sim: Simulator, api: Api, sockets: Sockets) -> None:
    transport = await session(sim, sockets)
    app_token = await api.token()
    status, body = await api.subscribe(
        app_token, "stream.online", {"broadcaster_user_id": "1"}, transport
    )
    assert (status, body["message"]) == (400, "invalid transport and auth combination")


async def test_conduit_needs_an_app_token(api: Api) -> None:
    app_token = await api.token()
    _, conduit, _ = await api.helix(
        "POST", "/eventsub/conduits", app_token, json={"shard_count": 1}
    )
    user_token = await api.token("1001")
    transport = {"method": "conduit", "conduit_id": conduit["data"][0]["id"]}
    status, body = await api.subscribe(
        user_token, "stream.online", {"broadcaster_user_id": "1"}, transport
    )
    assert (status, body["message"]) == (400, "invalid transport and auth combination")


@pytest.mark.parametrize(
    ("type_", "version", "condition", "status", "words"),
    [
        ("no.such.type", "1", {"broadcaster_user_id": "1"}, 400, "invalid subscription type"),
        ("stream.online", "7", {"broadcaster_user_id": "1"}, 400, "invalid subscription type"),
        ("stream.online", "1", {}, 400, "broadcaster_user_id"),
        ("stream.online", "1", {"broadcaster_user_id": "1", "bogus": "x"}, 400, "bogus"),
        (
            "channel.follow",
            "1",
            {"broadcaster_user_id": "1", "moderator_user_id": "1"},
            410,
            "removed",
        ),
    ],
)
async def test_bad_type_or_condition(
    sim: Simulator,
    api: Api,
    sockets: Sockets,
    type_: str,
    version: str,
    condition: dict[str, str],
    status: int,
    words: str,
) -> None:
    transport = await session(sim, sockets)
    token = await api.token("1")
    got, body = await api.subscribe(token, type_, condition, transport, version=version)
    assert got == status and body["status"] == status
    assert words in body["message"]


async def test_missing_scope_is_403(sim: Simulator, api: Api, sockets: Sockets) -> None:
    transport = await session(sim, sockets)
    token = await api.token("1001", ("bits:read",))
    status, body = await api.subscribe(
        token, "channel.subscribe", {"broadcaster_user_id": "1001"}, transport
    )
    assert (status, body["error"]) == (403, "Forbidden")
    status, _ = await api.subscribe(
        token, "channel.cheer", {"broadcaster_user_id": "1001"}, transport
    )
    assert status == 202


async def test_chat_reads_as_the_chatting_user(sim: Simulator, api: Api, sockets: Sockets) -> None:
    transport = await session(sim, sockets)
    broadcaster = await api.token("1001", ("user:read:chat",))
    status, _ = await api.subscribe(
        broadcaster, "channel.chat.message", chat("1001", "9000"), transport
    )
    assert status == 403  # the token must be the user_id's, even the broadcaster's is not
    status, _ = await api.subscribe(
        broadcaster, "channel.chat.message", chat("5", "1001"), transport
    )
    assert status == 202


async def test_scope_of_another_user_is_403(sim: Simulator, api: Api, sockets: Sockets) -> None:
    transport = await session(sim, sockets)
    token = await api.token("1001", ("bits:read",))
    status, _ = await api.subscribe(
        token, "channel.cheer", {"broadcaster_user_id": "2002"}, transport
    )
    assert status == 403


async def test_bad_tokens_are_401(sim: Simulator, api: Api, sockets: Sockets) -> None:
    transport = await session(sim, sockets)
    body = {
        "type": "stream.online",
        "version": "1",
        "condition": {"broadcaster_user_id": "1"},
        "transport": transport,
    }
    status, answer, headers = await api.helix("POST", SUBS, "not-a-token", json=body)
    assert (status, answer["message"]) == (401, "Invalid OAuth token")
    assert "Ratelimit-Remaining" in headers
    status, answer, _ = await api.helix("POST", SUBS, None, json=body)
    assert (status, answer["message"]) == (401, "OAuth token is missing")
    token = await api.token("1")
    status, answer, _ = await api.helix("POST", SUBS, token, json=body, client_id="someone-else")
    assert (status, answer["message"]) == (401, "Client ID and OAuth token do not match")
    await api.control("POST", "/tokens/expire", {"access_token": token})
    status, _, _ = await api.helix("POST", SUBS, token, json=body)
    assert status == 401


async def test_token_expires_by_itself(sim: Simulator, api: Api) -> None:
    token = await api.token("1", expires_in=0.3)
    assert (await api.helix("GET", SUBS, token))[0] == 200
    await wait_for(lambda: sim.state.identity.tokens[token].expires_at < sim.dispatcher.clock())
    assert (await api.helix("GET", SUBS, token))[0] == 401


async def test_duplicate_is_409(sim: Simulator, api: Api, sockets: Sockets) -> None:
    transport = await session(sim, sockets)
    token = await api.token("1001")
    assert (await api.subscribe(token, "stream.online", {"broadcaster_user_id": "7"}, transport))[
        0
    ] == 202
    status, body = await api.subscribe(
        token, "stream.online", {"broadcaster_user_id": "7"}, transport
    )
    assert (status, body["error"]) == (409, "Conflict")
    assert (await api.subscribe(token, "stream.online", {"broadcaster_user_id": "8"}, transport))[
        0
    ] == 202


async def test_one_session_holds_one_users_subscriptions(
    sim: Simulator, api: Api, sockets: Sockets
) -> None:
    transport = await session(sim, sockets)
    first, second = await api.token("1001"), await api.token("2002")
    assert (
        await api.subscribe(first, "stream.online", {"broadcaster_user_id": "1001"}, transport)
    )[0] == 202
    status, body = await api.subscribe(
        second, "stream.online", {"broadcaster_user_id": "2002"}, transport
    )
    assert status == 400
    assert (
        body["message"]
        == "websocket transport cannot have subscriptions created by different users"
    )


async def test_unknown_session_is_400(api: Api) -> None:
    token = await api.token("1")
    transport = {"method": "websocket", "session_id": "nope"}
    status, body = await api.subscribe(
        token, "stream.online", {"broadcaster_user_id": "1"}, transport
    )
    assert status == 400 and "does not exist" in body["message"]


async def test_max_total_cost_10_for_websocket(sim: Simulator, api: Api, sockets: Sockets) -> None:
    transport = await session(sim, sockets)
    token = await api.token("1001")
    for channel in range(10):
        status, body = await api.subscribe(
            token, "stream.online", {"broadcaster_user_id": f"9{channel}"}, transport
        )
        assert status == 202 and body["data"][0]["cost"] == 1
    status, body = await api.subscribe(
        token, "stream.online", {"broadcaster_user_id": "4242"}, transport
    )
    assert (status, body["message"]) == (429, "total cost exceeded")
    status, _ = await api.subscribe(
        token, "stream.online", {"broadcaster_user_id": "1001"}, transport
    )
    assert status == 202  # cost 0 still fits


async def test_three_websocket_transports_per_user(
    sim: Simulator, api: Api, sockets: Sockets
) -> None:
    token = await api.token("1001", ("user:read:chat",))
    for index in range(3):
        transport = await session(sim, sockets)
        assert (
            await api.subscribe(token, "channel.chat.message", chat(str(index), "1001"), transport)
        )[0] == 202
    transport = await session(sim, sockets)
    status, body = await api.subscribe(token, "channel.chat.message", chat("77", "1001"), transport)
    assert (status, body["message"]) == (429, "number of websocket transports limit exceeded")
    other = await api.token("2002", ("user:read:chat",))
    assert (await api.subscribe(other, "channel.chat.message", chat("77", "2002"), transport))[
        0
    ] == 202


async def test_three_alike_subscriptions_at_most(
    sim: Simulator, api: Api, sockets: Sockets
) -> None:
    token = await api.token("1001", ("user:read:chat",))
    for _ in range(3):
        transport = await session(sim, sockets)
        assert (await api.subscribe(token, "channel.chat.message", chat("5", "1001"), transport))[
            0
        ] == 202
    transport = await session(sim, sockets)
    status, body = await api.subscribe(token, "channel.chat.message", chat("5", "1001"), transport)
    assert (status, body["message"]) == (
        429,
        "maximum subscriptions with type and condition exceeded",
    )


async def test_300_enabled_subscriptions_per_connection(
    config: SimulatorConfig, sockets: Sockets
) -> None:
    config = dataclasses.replace(config, rate_limit_points=1000)
    async with Simulator(config) as sim:
        import aiohttp

        async with aiohttp.ClientSession() as http:
            api = Api(sim, http)
            transport = await session(sim, sockets)
            token = await api.token("1001", ("user:read:chat",))
            for channel in range(300):
                status, _ = await api.subscribe(
                    token, "channel.chat.message", chat(str(channel), "1001"), transport
                )
                assert status == 202
            status, body = await api.subscribe(
                token, "channel.chat.message", chat("300", "1001"), transport
            )
            assert (status, body["message"]) == (
                429,
                "maximum subscriptions per websocket transport exceeded",
            )


async def test_get_filters_and_paginates(sim: Simulator, api: Api, sockets: Sockets) -> None:
    transport = await session(sim, sockets)
    token = await api.token("1001")
    ids = []
    for channel in ("1001", "2", "3"):
        ids.append(
            (
                await api.subscribe(
                    token, "stream.online", {"broadcaster_user_id": channel}, transport
                )
            )[1]["data"][0]["id"]
        )
    await api.subscribe(token, "stream.offline", {"broadcaster_user_id": "2"}, transport)
    status, page, headers = await api.helix("GET", SUBS, token, params={"type": "stream.online"})
    assert status == 200 and "Ratelimit-Limit" in headers
    assert [s["id"] for s in page["data"]] == ids[:2]  # page_size 2, oldest first
    assert page["total"] == 4 and page["max_total_cost"] == 10
    cursor = page["pagination"]["cursor"]
    _, rest, _ = await api.helix(
        "GET", SUBS, token, params={"type": "stream.online", "after": cursor}
    )
    assert [s["id"] for s in rest["data"]] == ids[2:] and rest["pagination"] == {}
    _, by_user, _ = await api.helix("GET", SUBS, token, params={"user_id": "2"})
    assert {s["type"] for s in by_user["data"]} == {"stream.online", "stream.offline"}
    _, by_id, _ = await api.helix("GET", SUBS, token, params={"subscription_id": ids[1]})
    assert [s["id"] for s in by_id["data"]] == [ids[1]]
    _, by_status, _ = await api.helix("GET", SUBS, token, params={"status": "enabled"})
    assert by_status["total"] == 4
    status, _, _ = await api.helix(
        "GET", SUBS, token, params={"type": "stream.online", "status": "enabled"}
    )
    assert status == 400
    status, _, _ = await api.helix("GET", SUBS, token, params={"after": "garbage"})
    assert status == 400


async def test_get_shows_only_the_tokens_own_subscriptions(
    sim: Simulator, api: Api, sockets: Sockets
) -> None:
    transport = await session(sim, sockets)
    mine = await api.token("1001")
    await api.subscribe(mine, "stream.online", {"broadcaster_user_id": "1"}, transport)
    _, theirs, _ = await api.helix("GET", SUBS, await api.token("2002"))
    assert theirs["data"] == [] and theirs["total"] == 0
    _, app, _ = await api.helix("GET", SUBS, await api.token())
    assert app["data"] == [] and app["max_total_cost"] == 10_000


async def test_delete(sim: Simulator, api: Api, sockets: Sockets) -> None:
    transport = await session(sim, sockets)
    token = await api.token("1001")
    sub_id = (await api.subscribe(token, "stream.online", {"broadcaster_user_id": "1"}, transport))[
        1
    ]["data"][0]["id"]
    assert (await api.helix("DELETE", SUBS, await api.token("2002"), params={"id": sub_id}))[
        0
    ] == 404
    status, body, headers = await api.helix("DELETE", SUBS, token, params={"id": sub_id})
    assert status == 204 and body is None and "Ratelimit-Remaining" in headers
    assert (await api.helix("DELETE", SUBS, token, params={"id": sub_id}))[0] == 404
    assert (await api.helix("DELETE", SUBS, token))[0] == 400
    assert sub_id not in sim.state.subscriptions


async def test_rate_limit_bucket_per_client_and_user(config: SimulatorConfig) -> None:
    config = dataclasses.replace(config, rate_limit_points=3)
    async with Simulator(config) as sim:
        import aiohttp

        async with aiohttp.ClientSession() as http:
            api = Api(sim, http)
            token, other, app = await api.token("1"), await api.token("2"), await api.token()
            remaining = []
            for _ in range(3):
                status, _, headers = await api.helix("GET", SUBS, token)
                assert status == 200 and headers["Ratelimit-Limit"] == "3"
                remaining.append(int(headers["Ratelimit-Remaining"]))
            assert remaining == [2, 1, 0]
            status, body, headers = await api.helix("GET", SUBS, token)
            assert status == 429 and body["message"] == "Too Many Requests"
            assert headers["Ratelimit-Remaining"] == "0"
            assert int(headers["Ratelimit-Reset"]) >= int(sim.dispatcher.clock())
            assert (await api.helix("GET", SUBS, other))[0] == 200  # another user's bucket
            assert (await api.helix("GET", SUBS, app))[0] == 200  # the app's bucket

            async def refilled() -> bool:
                return (await api.helix("GET", SUBS, token))[0] == 200

            await wait_for(refilled)  # the window is 60 Twitch-seconds = 1.2 s here
