"""Session lifecycle rules without sockets: open, reconnect handover, end, subscribe window."""

from __future__ import annotations

import pytest

from kiss.simulator import SimulatorConfig
from kiss.simulator.twitch import sessions
from kiss.simulator.twitch.model import Conduit, Subscription
from kiss.simulator.twitch.world import SimulatorState


@pytest.fixture
def state() -> SimulatorState:
    return SimulatorState(SimulatorConfig(time_unit=0.5))


def test_subscribe_window_is_scaled(state: SimulatorState) -> None:
    session = sessions.open_session(state, keepalive=10, now=100.0)
    assert not sessions.unused_past_window(state, session, now=104.9)
    assert sessions.unused_past_window(state, session, now=105.0)  # 10 Twitch-s x 0.5
    session.used = True
    assert not sessions.unused_past_window(state, session, now=200.0)


def test_reconnect_is_taken_once_within_grace(state: SimulatorState) -> None:
    session = sessions.open_session(state, keepalive=10, now=0.0)
    reconnect_id = sessions.begin_reconnect(state, session.id, now=1.0)
    assert session.status == "reconnecting" and session.reconnect_deadline == 16.0
    assert sessions.accept_reconnect(state, reconnect_id, now=2.0) is session
    assert session.status == "connected"
    with pytest.raises(sessions.InvalidReconnect):
        sessions.accept_reconnect(state, reconnect_id, now=3.0)
    late_id = sessions.begin_reconnect(state, session.id, now=10.0)
    with pytest.raises(sessions.InvalidReconnect):
        sessions.accept_reconnect(state, late_id, now=26.0)
    with pytest.raises(KeyError):
        sessions.begin_reconnect(state, "missing", now=0.0)


def test_end_disables_subscriptions_and_shard(state: SimulatorState) -> None:
    session = sessions.open_session(state, keepalive=10, now=0.0)
    sub = Subscription(
        "s1",
        "stream.online",
        "1",
        {"broadcaster_user_id": "1"},
        "websocket",
        "c",
        "t",
        1,
        session_id=session.id,
    )
    state.add_subscription(sub)
    conduit = Conduit("k", "c")
    conduit.resize(1)
    conduit.shards[0].status, conduit.shards[0].session_id = "enabled", session.id
    state.conduits[conduit.id] = conduit
    session.shard = ("k", "0")
    ended = sessions.end_session(state, session.id, 4005, now=9.0)
    assert ended.subscriptions == [sub] and sub.status == "websocket_network_timeout"
    assert sub.disabled_at == 9.0 and sub.disconnected_at
    assert ended.shards == [(conduit, conduit.shards[0])]
    assert (
        conduit.shards[0].status == "websocket_network_timeout"
        and conduit.all_disabled_since == 9.0
    )
    assert session.status == "closed"
    assert sessions.end_session(state, session.id, 4000, now=10.0).subscriptions == []


def test_client_close_is_websocket_disconnected(state: SimulatorState) -> None:
    session = sessions.open_session(state, keepalive=10, now=0.0)
    sub = Subscription(
        "s1", "stream.online", "1", {}, "websocket", "c", "t", 1, session_id=session.id
    )
    state.add_subscription(sub)
    sessions.end_session(state, session.id, None, now=1.0)
    assert sub.status == "websocket_disconnected"


def test_session_ids_are_unique() -> None:
    assert len({sessions.new_session_id() for _ in range(100)}) == 100
