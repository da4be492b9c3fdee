"""The Twitch CLI mock's paths: /eventsub/subscriptions with a bare Client-Id, /mock, /auth."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from kiss.simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Simulator, SimulatorConfig
from tests.simulator.conftest import connect, receive_type
from tests.waiting import TIME_UNIT


@pytest.fixture
def config() -> SimulatorConfig:
    return SimulatorConfig(time_unit=TIME_UNIT, subscribe_window=1000)


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    json: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    async with http.request(method, url, json=json, headers=headers) as response:
        body = await response.read()
        return response.status, (await response.json() if body else None)


async def test_cli_style_subscribe_with_only_a_client_id(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    ws, welcome = await connect(sim.ws_url)
    session_id = welcome["payload"]["session"]["id"]
    body = {
        "type": "channel.subscribe",
        "version": "1",
        "condition": {"broadcaster_user_id": "1234"},
        "transport": {"method": "websocket", "session_id": session_id},
    }
    headers = {"Client-Id": "cli-client"}
    status, created = await call(
        http, "POST", f"{sim.base_url}/eventsub/subscriptions", json=body, headers=headers
    )
    assert status == 202 and created["data"][0]["status"] == "enabled"
    status, _ = await call(
        http, "POST", f"{sim.base_url}/eventsub/subscriptions", json=body, headers=headers
    )
    assert status == 409  # Twitch's duplicate rule still applies
    status, listed = await call(
        http, "GET", f"{sim.base_url}/eventsub/subscriptions", headers=headers
    )
    assert status == 200 and [s["id"] for s in listed["data"]] == [created["data"][0]["id"]]
    async with http.post(
        f"{sim.base_url}/control/trigger",
        json={"type": "channel.subscribe", "broadcaster_user_id": "1234"},
    ) as response:
        assert (await response.json())["sent"] == 1
    await receive_type(ws, "notification")
    sub_id = created["data"][0]["id"]
    status, _ = await call(
        http, "DELETE", f"{sim.base_url}/eventsub/subscriptions?id={sub_id}", headers=headers
    )
    assert status == 204
    await ws.close()


async def test_removed_version_is_still_410_on_the_cli_path(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    ws, welcome = await connect(sim.ws_url)
    body = {
        "type": "channel.follow",
        "version": "1",
        "condition": {"broadcaster_user_id": "1", "moderator_user_id": "1"},
        "transport": {"method": "websocket", "session_id": welcome["payload"]["session"]["id"]},
    }
    status, _ = await call(
        http,
        "POST",
        f"{sim.base_url}/eventsub/subscriptions",
        json=body,
        headers={"Client-Id": "c"},
    )
    assert status == 410
    await ws.close()


async def test_mock_api_auth_and_helix_paths(sim: Simulator, http: aiohttp.ClientSession) -> None:
    form = {
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "grant_type": "client_credentials",
    }
    async with http.post(f"{sim.base_url}/auth/token", data=form) as response:
        assert response.status == 200
        app_token = (await response.json())["access_token"]
    params = {**form, "grant_type": "user_token", "user_id": "4242", "scope": "user:read:chat"}
    async with http.post(f"{sim.base_url}/auth/authorize", params=params) as response:
        assert response.status == 200
        user = await response.json()
    assert user["scope"] == ["user:read:chat"] and user["refresh_token"]
    assert sim.state.identity.tokens[user["access_token"]].user_id == "4242"
    headers = {"Authorization": f"Bearer {app_token}", "Client-Id": DEMO_CLIENT_ID}
    status, conduit = await call(
        http,
        "POST",
        f"{sim.base_url}/mock/eventsub/conduits",
        json={"shard_count": 1},
        headers=headers,
    )
    assert status == 200 and conduit["data"][0]["shard_count"] == 1
    async with http.post(
        f"{sim.base_url}/auth/authorize", params={**params, "client_secret": "x"}
    ) as response:
        assert response.status == 403
