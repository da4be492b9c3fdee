"""The helpers for other parts' tests: a simulator subprocess and the sync control client."""

from __future__ import annotations

import json
import time

import pytest
import requests
import websockets.sync.client

from kiss.simulator.testing import SimulatorControl, SimulatorError, run_simulator_process
from tests.waiting import TIME_UNIT


def test_subprocess_simulator_end_to_end() -> None:
    with run_simulator_process(
        time_unit=TIME_UNIT, subscribe_window=1000, rate_limit_points=50
    ) as sim:
        assert sim.base_url.startswith("http://127.0.0.1:")
        assert sim.ws_url.endswith("/ws") and sim.helix_url.endswith("/helix")
        control = SimulatorControl(sim.base_url)
        token = control.token(user_id="1001", scopes=["bits:read"])["access_token"]
        with websockets.sync.client.connect(sim.ws_url) as ws:
            session_id = json.loads(ws.recv(timeout=5))["payload"]["session"]["id"]
            answer = requests.post(
                f"{sim.helix_url}/eventsub/subscriptions",
                json={
                    "type": "channel.cheer",
                    "version": "1",
                    "condition": {"broadcaster_user_id": "1001"},
                    "transport": {"method": "websocket", "session_id": session_id},
                },
                headers={"Authorization": f"Bearer {token}", "Client-Id": "kiss-demo-client"},
                timeout=10,
            )
            assert answer.status_code == 202
            assert answer.headers["Ratelimit-Limit"] == "50"
            assert control.trigger("channel.cheer", "1001")["sent"] == 1
            [session] = control.sessions()
            assert session["id"] == session_id and session["user_id"] == "1001"
            assert len(control.subscriptions()) == 1
            assert control.stats()["notifications_sent"] == 1
        process = sim.process
    assert process.poll() is not None


def test_control_errors_raise() -> None:
    with run_simulator_process(time_unit=TIME_UNIT) as sim:
        control = SimulatorControl(sim.base_url)
        with pytest.raises(SimulatorError, match="400"):
            control.trigger("no.such.type")
        control.fault("/helix", kind="5xx", count=1)
        assert requests.get(f"{sim.helix_url}/eventsub/subscriptions", timeout=5).status_code == 503
        control.clear_faults()
        user = control.user("someone")
        control.authorize(user["user_id"], ["channel:bot"])
        app = control.token()
        control.expire_token(app["access_token"])
        load_id = control.load(rate=0, channels=1, total=3)
        deadline = time.monotonic() + 5
        while control.load_status(load_id)["running"]:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert control.load_status(load_id)["dropped"] == 3


def test_bad_option_fails_to_start() -> None:
    with pytest.raises(RuntimeError, match="failed to start"), run_simulator_process(time_unit=-1):
        pass
