"""Demo setup against the real simulator, in a subprocess."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from kiss.simulator.testing import SimulatorControl, run_simulator_process
from kiss.store.crypto import TokenCipher
from kiss.store.db import make_engine, session_factory, upgrade
from kiss.store.tokens import USER, list_tokens, load_secrets
from kiss.supervisor.demo import (
    DEMO_EVENT_TYPE,
    DEMO_SCOPES,
    create_channels,
    free_port,
    simulator_env,
    start_load,
    store_tokens,
)
from tests.waiting import PROCESS_TIME_UNIT


def test_free_port_can_be_bound() -> None:
    port = free_port()
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))


def test_simulator_env_points_every_twitch_url_at_the_simulator() -> None:
    env = simulator_env("http://127.0.0.1:8123")
    assert env["KISSBOT_TWITCH__EVENTSUB_WS_URL"] == "ws://127.0.0.1:8123/ws"
    assert env["KISSBOT_TWITCH__HELIX_URL"] == "http://127.0.0.1:8123/helix"
    assert env["KISSBOT_TWITCH__OAUTH_URL"] == "http://127.0.0.1:8123/oauth2"
    assert env["KISSBOT_TWITCH__CLIENT_ID"] == "kiss-demo-client"


def test_channels_are_created_and_the_load_runs() -> None:
    with run_simulator_process(time_unit=PROCESS_TIME_UNIT) as sim:
        control = SimulatorControl(sim.base_url)
        channels = create_channels(control, 2)
        assert [c.login for c in channels] == ["demo_streamer_1", "demo_streamer_2"]
        assert len({c.channel_id for c in channels}) == 2
        load_id = start_load(control, channels, rate=50.0)
        deadline = time.monotonic() + 10
        status = control.load_status(load_id)
        while status["sent"] == 0:
            assert time.monotonic() < deadline, status
            time.sleep(0.05)
            status = control.load_status(load_id)
        assert status["type"] == DEMO_EVENT_TYPE
        assert status["running"]


def test_each_broadcaster_token_lands_encrypted_in_the_store(
    sqlite_url: str, tmp_path: Path
) -> None:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    sessions = session_factory(engine)
    cipher = TokenCipher.from_file(tmp_path / "kissbot.key")
    with run_simulator_process(time_unit=PROCESS_TIME_UNIT) as sim:
        control = SimulatorControl(sim.base_url)
        channels = create_channels(control, 2)
        store_tokens(control, channels, sessions, cipher)
    with sessions() as session:
        tokens = {info.user_id: info for info in list_tokens(session)}
        assert set(tokens) == {c.channel_id for c in channels}
        assert set(DEMO_SCOPES) <= set(tokens[channels[0].channel_id].scopes)
        secrets = load_secrets(session, cipher, USER, channels[0].channel_id)
        assert secrets is not None and secrets.access_token
    engine.dispose()
