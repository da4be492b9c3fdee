"""OAuth over real HTTP: validate, client credentials, rotating refresh, device code grant."""

from __future__ import annotations

from typing import Any

import aiohttp
from yarl import URL

from kiss.simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, Simulator
from tests.simulator.conftest import Api
from tests.waiting import wait_for_async as wait_for

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


async def post_form(http: aiohttp.ClientSession, url: str, form: dict[str, str]) -> tuple[int, Any]:
    async with http.post(url, data=form) as response:
        return response.status, await response.json()


async def validate(http: aiohttp.ClientSession, sim: Simulator, token: str) -> tuple[int, Any]:
    async with http.get(
        f"{sim.oauth_url}/validate", headers={"Authorization": f"OAuth {token}"}
    ) as r:
        return r.status, await r.json()


async def test_validate_user_and_app_tokens(
    sim: Simulator, api: Api, http: aiohttp.ClientSession
) -> None:
    await api.control("POST", "/users", {"login": "Streamer", "user_id": "1001"})
    user_token = await api.token("1001", ("user:read:chat", "bits:read"))
    status, body = await validate(http, sim, user_token)
    assert status == 200
    assert (
        body["client_id"] == DEMO_CLIENT_ID
        and body["login"] == "streamer"
        and body["user_id"] == "1001"
    )
    assert body["scopes"] == ["bits:read", "user:read:chat"]
    assert 0 < body["expires_in"] <= 14_400 * sim.config.time_unit
    status, body = await validate(http, sim, await api.token())
    assert status == 200 and "user_id" not in body and "login" not in body
    status, body = await validate(http, sim, "nope")
    assert (status, body) == (401, {"status": 401, "message": "invalid access token"})


async def test_client_credentials(sim: Simulator, http: aiohttp.ClientSession) -> None:
    form = {
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "grant_type": "client_credentials",
    }
    status, body = await post_form(http, f"{sim.oauth_url}/token", form)
    assert status == 200 and body["token_type"] == "bearer" and body["expires_in"] > 0
    assert "refresh_token" not in body
    assert (await validate(http, sim, body["access_token"]))[0] == 200
    status, body = await post_form(
        http, f"{sim.oauth_url}/token", {**form, "client_secret": "wrong-secret"}
    )
    assert (status, body["message"]) == (403, "invalid client secret")
    status, body = await post_form(http, f"{sim.oauth_url}/token", {**form, "client_id": "unknown"})
    assert (status, body["message"]) == (400, "invalid client")
    status, body = await post_form(
        http, f"{sim.oauth_url}/token", {**form, "grant_type": "password"}
    )
    assert status == 400 and "grant_type" in body["message"]


async def test_refresh_tokens_rotate(sim: Simulator, api: Api, http: aiohttp.ClientSession) -> None:
    minted = await api.control(
        "POST", "/tokens", {"client_id": DEMO_CLIENT_ID, "user_id": "1001", "scopes": ["bits:read"]}
    )
    form = {
        "grant_type": "refresh_token",
        "refresh_token": minted["refresh_token"],
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
    }
    status, body = await post_form(http, f"{sim.oauth_url}/token", form)
    assert status == 200
    assert body["refresh_token"] != minted["refresh_token"]
    assert body["access_token"] != minted["access_token"] and body["scope"] == ["bits:read"]
    _, validated = await validate(http, sim, body["access_token"])
    assert validated["user_id"] == "1001"
    status, again = await post_form(http, f"{sim.oauth_url}/token", form)
    assert (status, again["message"]) == (400, "Invalid refresh token")


async def test_device_code_grant(sim: Simulator, api: Api, http: aiohttp.ClientSession) -> None:
    form = {"client_id": DEMO_CLIENT_ID, "scopes": "user:read:chat user:bot"}
    status, device = await post_form(http, f"{sim.oauth_url}/device", form)
    assert status == 200
    assert device["expires_in"] == int(1800 * sim.config.time_unit)
    assert device["interval"] == 5 * sim.config.time_unit
    assert device["user_code"] in device["verification_uri"]
    poll = {
        "client_id": DEMO_CLIENT_ID,
        "device_code": device["device_code"],
        "grant_type": DEVICE_GRANT,
    }
    status, body = await post_form(http, f"{sim.oauth_url}/token", poll)
    assert (status, body["message"]) == (400, "authorization_pending")
    await api.control(
        "POST", "/device/approve", {"user_code": device["user_code"], "user_id": "1001"}
    )
    status, body = await post_form(http, f"{sim.oauth_url}/token", poll)
    assert (
        status == 200 and body["refresh_token"] and body["scope"] == ["user:bot", "user:read:chat"]
    )
    _, validated = await validate(http, sim, body["access_token"])
    assert validated["user_id"] == "1001"
    status, body = await post_form(http, f"{sim.oauth_url}/token", poll)
    assert (status, body["message"]) == (400, "invalid device code")


async def test_activate_page_approves_a_device_code(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    _, device = await post_form(
        http, f"{sim.oauth_url}/device", {"client_id": DEMO_CLIENT_ID, "scopes": ""}
    )
    async with http.get(device["verification_uri"], params={"login": "botaccount"}) as response:
        assert response.status == 200
    poll = {
        "client_id": DEMO_CLIENT_ID,
        "device_code": device["device_code"],
        "grant_type": DEVICE_GRANT,
    }
    status, body = await post_form(http, f"{sim.oauth_url}/token", poll)
    assert status == 200
    _, validated = await validate(http, sim, body["access_token"])
    assert validated["login"] == "botaccount"


async def test_device_code_expires(sim: Simulator, http: aiohttp.ClientSession) -> None:
    _, device = await post_form(http, f"{sim.oauth_url}/device", {"client_id": DEMO_CLIENT_ID})
    poll = {
        "client_id": DEMO_CLIENT_ID,
        "device_code": device["device_code"],
        "grant_type": DEVICE_GRANT,
    }
    code = sim.state.identity.device_codes[device["device_code"]]
    code.expires_at = sim.dispatcher.clock() - 1  # 1800 Twitch-seconds later
    status, body = await post_form(http, f"{sim.oauth_url}/token", poll)
    assert (status, body["message"]) == (400, "expired_token")


async def test_tokens_expire(sim: Simulator, api: Api, http: aiohttp.ClientSession) -> None:
    token = await api.token("1001", expires_in=0.2)
    assert (await validate(http, sim, token))[0] == 200

    async def expired() -> bool:
        return (await validate(http, sim, token))[0] == 401

    await wait_for(expired)


async def test_revoke(sim: Simulator, api: Api, http: aiohttp.ClientSession) -> None:
    token = await api.token("1001")
    async with http.post(
        f"{sim.oauth_url}/revoke", data={"client_id": DEMO_CLIENT_ID, "token": token}
    ) as r:
        assert r.status == 200
    assert (await validate(http, sim, token))[0] == 401


async def test_authorization_code_grant(sim: Simulator, http: aiohttp.ClientSession) -> None:
    redirect = "http://localhost:17563/callback"
    params = {
        "client_id": DEMO_CLIENT_ID,
        "redirect_uri": redirect,
        "response_type": "code",
        "scope": "bits:read user:read:chat",
        "state": "xyz",
        "login": "viewer",
    }
    async with http.get(f"{sim.oauth_url}/authorize", params=params, allow_redirects=False) as r:
        assert r.status == 302
        location = URL(r.headers["Location"])
    assert str(location).startswith(redirect) and location.query["state"] == "xyz"
    form = {
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "code": location.query["code"],
        "grant_type": "authorization_code",
        "redirect_uri": redirect,
    }
    status, body = await post_form(
        http, f"{sim.oauth_url}/token", {**form, "redirect_uri": "http://elsewhere"}
    )
    assert status == 400 and "redirect_uri" in body["message"]
    async with http.get(f"{sim.oauth_url}/authorize", params=params, allow_redirects=False) as r:
        form["code"] = URL(r.headers["Location"]).query["code"]
    status, body = await post_form(http, f"{sim.oauth_url}/token", form)
    assert (
        status == 200 and body["refresh_token"] and body["scope"] == ["bits:read", "user:read:chat"]
    )
    _, validated = await validate(http, sim, body["access_token"])
    assert validated["login"] == "viewer"
    status, body = await post_form(http, f"{sim.oauth_url}/token", form)
    assert (status, body["message"]) == (400, "Invalid authorization code")


async def test_implicit_grant_and_bad_requests(sim: Simulator, http: aiohttp.ClientSession) -> None:
    params = {
        "client_id": DEMO_CLIENT_ID,
        "redirect_uri": "http://localhost/cb",
        "response_type": "token",
        "scope": "",
    }
    async with http.get(f"{sim.oauth_url}/authorize", params=params, allow_redirects=False) as r:
        fragment = dict(
            part.split("=", 1) for part in URL(r.headers["Location"]).fragment.split("&")
        )
    assert (await validate(http, sim, fragment["access_token"]))[0] == 200
    for bad in (
        {"response_type": "nope"},
        {"redirect_uri": ""},
        {"client_id": "unknown", "response_type": "code"},
    ):
        async with http.get(
            f"{sim.oauth_url}/authorize", params={**params, **bad}, allow_redirects=False
        ) as r:
            assert r.status == 400
