"""The simulator process: one port for everything, injected faults, start and stop."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
import websockets

from kiss.simulator import Simulator, SimulatorConfig
from tests.simulator.conftest import Api, connect
from tests.waiting import TIME_UNIT
from tests.waiting import wait_for_async as wait_for

SUBS = "/eventsub/subscriptions"


async def test_addresses_share_one_port(sim: Simulator) -> None:
    port = sim.port
    assert port and sim.base_url == f"http://127.0.0.1:{port}"
    assert sim.ws_url == f"ws://127.0.0.1:{port}/ws"
    assert sim.helix_url == f"http://127.0.0.1:{port}/helix"
    assert sim.oauth_url == f"http://127.0.0.1:{port}/oauth2"


def test_addresses_need_a_started_simulator() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = Simulator().base_url


async def test_stop_closes_open_sockets() -> None:
    async with Simulator(SimulatorConfig(time_unit=TIME_UNIT, subscribe_window=1000)) as sim:
        ws, _ = await connect(sim.ws_url)
    with pytest.raises(websockets.ConnectionClosed):
        while True:
            await ws.recv()


async def test_5xx_fault_for_a_count_then_normal(api: Api) -> None:
    token = await api.token("1")
    await api.control(
        "POST", "/faults", {"path_prefix": "/helix/eventsub", "kind": "5xx", "count": 2}
    )
    answers = [await api.helix("GET", SUBS, token) for _ in range(3)]
    assert [status for status, _, _ in answers] == [503, 503, 200]
    assert all("Ratelimit-Remaining" in headers for _, _, headers in answers)
    await api.control("POST", "/faults", {"path_prefix": "/helix", "status": 500, "count": 1})
    status, body, _ = await api.helix("GET", SUBS, token)
    assert (status, body["error"]) == (500, "Internal Server Error")


async def test_ratelimit_fault_looks_like_an_empty_bucket(api: Api) -> None:
    token = await api.token("1")
    await api.control("POST", "/faults", {"path_prefix": "/helix", "kind": "ratelimit"})
    status, body, headers = await api.helix("GET", SUBS, token)
    assert (status, body["message"]) == (429, "Too Many Requests")
    assert headers["Ratelimit-Remaining"] == "0" and int(headers["Ratelimit-Reset"]) > time.time()
    assert (await api.control("GET", "/faults"))["data"][0]["kind"] == "ratelimit"
    await api.control("DELETE", "/faults")
    assert (await api.helix("GET", SUBS, token))[0] == 200


async def test_latency_fault_delays_then_answers(api: Api) -> None:
    token = await api.token("1")
    await api.control("POST", "/faults", {"path_prefix": "/helix", "latency_ms": 200, "count": 1})
    started = time.monotonic()
    status, _, _ = await api.helix("GET", SUBS, token)
    assert status == 200 and time.monotonic() - started >= 0.2


async def test_faults_spare_other_paths_and_the_control_api(
    sim: Simulator, api: Api, http: aiohttp.ClientSession
) -> None:
    await api.control("POST", "/faults", {"path_prefix": "/oauth2", "kind": "5xx"})
    token = await api.token("1")
    assert (await api.helix("GET", SUBS, token))[0] == 200
    async with http.get(
        f"{sim.oauth_url}/validate", headers={"Authorization": f"OAuth {token}"}
    ) as r:
        assert r.status == 503


async def test_unknown_path_is_404(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{sim.base_url}/helix/nothing-here") as response:
        assert response.status == 404


def test_a_third_party_client_works_unmodified() -> None:
    """pyTwitchAPI, pointed at the simulator: app auth, user auth, subscribe, event, reconnect."""
    from twitchAPI.eventsub.websocket import EventSubWebsocket
    from twitchAPI.object.eventsub import ChannelCheerEvent
    from twitchAPI.twitch import Twitch
    from twitchAPI.type import AuthScope

    from kiss.simulator.testing import SimulatorControl, run_simulator_process

    async def scenario(base_url: str, helix_url: str, oauth_url: str, ws_url: str) -> list[int]:
        control = SimulatorControl(base_url)
        minted = await asyncio.to_thread(control.token, user_id="1001", scopes=["bits:read"])
        twitch = await Twitch(
            "kiss-demo-client",
            "kiss-demo-secret",
            base_url=f"{helix_url}/",
            auth_base_url=f"{oauth_url}/",
        )
        await twitch.set_user_authentication(
            minted["access_token"], [AuthScope.BITS_READ], minted["refresh_token"]
        )
        cheers: asyncio.Queue[ChannelCheerEvent] = asyncio.Queue()
        eventsub = EventSubWebsocket(
            twitch, connection_url=ws_url, callback_loop=asyncio.get_running_loop()
        )
        eventsub.start()  # type: ignore[no-untyped-call]
        try:

            async def on_cheer(event: ChannelCheerEvent) -> None:
                await cheers.put(event)

            await eventsub.listen_channel_cheer("1001", on_cheer)
            await asyncio.to_thread(control.trigger, "channel.cheer", "1001")
            bits = [(await asyncio.wait_for(cheers.get(), 10)).event.bits]
            [session] = await asyncio.to_thread(control.sessions)
            await asyncio.to_thread(control.reconnect, session["id"])

            async def moved() -> bool:
                sessions = await asyncio.to_thread(control.sessions)
                return [s["status"] for s in sessions] == ["connected"] and (
                    await asyncio.to_thread(control.stats)
                )["closes"] == {}

            await wait_for(moved, within=10)
            await asyncio.to_thread(
                control.trigger, "channel.cheer", "1001", event={"bits": 7, **BASE_CHEER}
            )
            bits.append((await asyncio.wait_for(cheers.get(), 10)).event.bits)
            return bits
        finally:
            await eventsub.stop()  # type: ignore[no-untyped-call]
            await twitch.close()

    with run_simulator_process(time_unit=0.1) as sim:
        bits = asyncio.run(scenario(sim.base_url, sim.helix_url, sim.oauth_url, sim.ws_url))
    assert bits == [1000, 7]


BASE_CHEER = {
    "is_anonymous": False,
    "user_id": "5",
    "user_login": "fan",
    "user_name": "Fan",
    "broadcaster_user_id": "1001",
    "broadcaster_user_login": "streamer",
    "broadcaster_user_name": "Streamer",
    "message": "cheer7",
}


async def test_an_after_fault_does_the_work_and_loses_the_answer(api: Api) -> None:
    app = await api.token()
    _, conduits, _ = await api.helix("POST", "/eventsub/conduits", app, json={"shard_count": 1})
    transport = {"method": "conduit", "conduit_id": conduits["data"][0]["id"]}
    fault = {"path_prefix": "/helix/eventsub/subscriptions", "status": 502, "after": True,
             "count": 1}  # fmt: skip
    await api.control("POST", "/faults", fault)
    condition = {"broadcaster_user_id": "1"}
    assert (await api.subscribe(app, "stream.online", condition, transport))[0] == 502
    assert (await api.subscribe(app, "stream.online", condition, transport))[0] == 409  # done
    assert (await api.control("GET", "/stats"))["faults_served"] == {"502": 1}
