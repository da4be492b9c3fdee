"""Simulator test fixtures: a simulator on a free port, real HTTP and WebSocket clients."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
import websockets

from kiss.simulator import DEMO_CLIENT_ID, Simulator, SimulatorConfig
from tests.waiting import TIME_UNIT


@pytest.fixture
def config() -> SimulatorConfig:
    return SimulatorConfig(time_unit=TIME_UNIT)


@pytest.fixture
async def sim(config: SimulatorConfig) -> AsyncIterator[Simulator]:
    async with Simulator(config) as simulator:
        yield simulator


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Api:
    """Calls to one simulator: control API, Helix with a token, and WebSocket sessions."""

    def __init__(self, sim: Simulator, http: aiohttp.ClientSession) -> None:
        self.sim = sim
        self.http = http

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        async with self.http.request(method, f"{self.sim.base_url}/control{path}", json=body) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def token(
        self, user_id: str | None = None, scopes: tuple[str, ...] = (), **extra: Any
    ) -> str:
        body = {"client_id": DEMO_CLIENT_ID, "user_id": user_id, "scopes": list(scopes), **extra}
        return str((await self.control("POST", "/tokens", body))["access_token"])

    async def helix(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        client_id: str = DEMO_CLIENT_ID,
    ) -> tuple[int, Any, dict[str, str]]:
        headers = {"Client-Id": client_id}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        url = f"{self.sim.helix_url}{path}"
        async with self.http.request(method, url, json=json, params=params, headers=headers) as r:
            body = await r.read()
            return r.status, (orjson.loads(body) if body else None), dict(r.headers)

    async def subscribe(
        self,
        token: str,
        type_: str,
        condition: dict[str, str],
        transport: dict[str, str],
        version: str = "1",
    ) -> tuple[int, Any]:
        body = {"type": type_, "version": version, "condition": condition, "transport": transport}
        status, data, _ = await self.helix("POST", "/eventsub/subscriptions", token, json=body)
        return status, data


@pytest.fixture
def api(sim: Simulator, http: aiohttp.ClientSession) -> Api:
    return Api(sim, http)


async def receive(ws: websockets.ClientConnection, within: float = 5.0) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.recv(), within)
    data = orjson.loads(message)
    assert isinstance(data, dict)
    return data


async def receive_type(
    ws: websockets.ClientConnection, message_type: str, within: float = 5.0
) -> dict[str, Any]:
    """The next message of a type, skipping keepalives."""
    deadline = time.monotonic() + within
    while True:
        message = await receive(ws, max(0.01, deadline - time.monotonic()))
        if message["metadata"]["message_type"] == message_type:
            return message
        assert message["metadata"]["message_type"] == "session_keepalive", message


async def connect(url: str, **kwargs: Any) -> tuple[websockets.ClientConnection, dict[str, Any]]:
    """A socket and its welcome."""
    ws = await websockets.connect(url, **kwargs)
    welcome = await receive(ws)
    assert welcome["metadata"]["message_type"] == "session_welcome"
    return ws, welcome
