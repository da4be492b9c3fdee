"""Fault parsing and use-up counting."""

from __future__ import annotations

import pytest

from kiss.simulator.faults import Faults, parse_fault
from kiss.simulator.problems import TwitchProblem


def test_kinds_default_their_status() -> None:
    assert parse_fault({"path_prefix": "/helix", "kind": "5xx"}).status == 503
    assert parse_fault({"path_prefix": "/helix", "kind": "ratelimit"}).status == 429
    latency = parse_fault({"path_prefix": "/helix", "latency_ms": 5})
    assert latency.status is None and latency.latency_ms == 5


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"path_prefix": "helix", "status": 500},
        {"path_prefix": "/helix", "status": 200},
        {"path_prefix": "/helix", "status": 500, "count": 0},
        {"path_prefix": "/helix", "latency_ms": -1},
        {"path_prefix": "/helix"},
    ],
)
def test_bad_faults_are_rejected(body: object) -> None:
    with pytest.raises(TwitchProblem):
        parse_fault(body)


def test_counted_faults_are_used_up() -> None:
    faults = Faults()
    faults.add(parse_fault({"path_prefix": "/helix/eventsub", "status": 500, "count": 2}))
    assert faults.take("/oauth2/token") is None
    assert faults.take("/helix/eventsub/subscriptions") is not None
    assert faults.take("/helix/eventsub/conduits") is not None
    assert faults.take("/helix/eventsub/conduits") is None
    faults.add(parse_fault({"path_prefix": "/", "status": 500}))
    assert all(faults.take("/x") is not None for _ in range(5))
    faults.clear()
    assert faults.list() == []
