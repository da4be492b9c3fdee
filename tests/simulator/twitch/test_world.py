"""The in-memory world: the demo client and counters."""

from __future__ import annotations

from kiss.simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SimulatorConfig
from kiss.simulator.twitch.world import SimulatorState


def test_demo_client_exists_at_start() -> None:
    state = SimulatorState(SimulatorConfig())
    assert state.identity.clients[DEMO_CLIENT_ID].client_secret == DEMO_CLIENT_SECRET
    assert SimulatorState(SimulatorConfig(demo_client=False)).identity.clients == {}


def test_stats_as_json() -> None:
    state = SimulatorState(SimulatorConfig())
    state.stats.by_session["s"] += 2
    state.stats.closes[4003] += 1
    data = state.stats.to_json()
    assert data["by_session"] == {"s": 2} and data["closes"] == {"4003": 1}


def test_indexes_follow_add_disable_remove() -> None:
    from kiss.simulator.twitch.model import Subscription

    state = SimulatorState(SimulatorConfig())
    owner = ("c", "u")
    subs = [
        Subscription(
            f"s{i}",
            "stream.online",
            "1",
            {"broadcaster_user_id": str(i)},
            "websocket",
            "c",
            "t",
            1,
            user_id="u",
            session_id="sess",
        )
        for i in range(3)
    ]
    for sub in subs:
        state.add_subscription(sub)
    assert state.owned_count(owner) == 3 and state.enabled_cost(owner) == 3
    assert [s.id for s in state.session_subscriptions("sess")] == ["s0", "s1", "s2"]
    assert state.alike(subs[1].alike_key) == [subs[1]]
    state.disable(subs[0], "user_removed", 1.0)
    state.disable(subs[0], "authorization_revoked", 2.0)  # twice: counted once
    assert state.enabled_cost(owner) == 2 and state.owned_count(owner) == 3
    assert state.remove_subscription("s1") is subs[1] and state.remove_subscription("s1") is None
    assert state.enabled_cost(owner) == 1 and state.alike(subs[1].alike_key) == []
    assert state.owned(("c", None)) == []
    assert state.purge_disabled(now=1.0 + 60) == ["s0"]
    assert [s.id for s in state.owned(owner)] == ["s2"]
