"""The in-memory world: the demo client and counters."""

from __future__ import annotations

from kiss.simulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SimulatorConfig
from kiss.simulator.state import SimulatorState


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
