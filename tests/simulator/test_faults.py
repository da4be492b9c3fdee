"""Fault parsing and use-up counting."""

from __future__ import annotations

import random

import pytest

from kiss.simulator.faults import Faults, RawFrame, parse_fault, parse_raw_frames
from kiss.simulator.twitch.problems import TwitchProblem


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
        {"path_prefix": "/helix", "status": 500, "probability": 0},
        {"path_prefix": "/helix", "status": 500, "probability": 1.5},
        {"path_prefix": "/helix", "status": 500, "probability": True},
        {"path_prefix": "/helix", "latency_ms": 5, "after": True},
        {"path_prefix": "/helix", "status": 500, "after": "yes"},
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


def test_latencies_add_up_and_the_first_error_that_fires_answers() -> None:
    faults = Faults()
    faults.add(parse_fault({"path_prefix": "/helix", "latency_ms": 500}))
    faults.add(parse_fault({"path_prefix": "/helix", "kind": "ratelimit", "count": 1}))
    faults.add(parse_fault({"path_prefix": "/helix", "kind": "5xx", "latency_ms": 5, "count": 1}))
    first = faults.take("/helix/eventsub/subscriptions")
    assert first is not None and (first.status, first.latency_ms) == (429, 500)
    second = faults.take("/helix/eventsub/subscriptions")  # the 5xx was not used up by the 429
    assert second is not None and (second.status, second.latency_ms) == (503, 505)
    third = faults.take("/helix/eventsub/subscriptions")
    assert third is not None and (third.status, third.latency_ms) == (None, 500)
    assert faults.served == {429: 1, 503: 1}


def test_a_probability_fault_hits_that_share_of_the_requests() -> None:
    faults = Faults(random.Random(7))
    faults.add(parse_fault({"path_prefix": "/helix", "kind": "5xx", "probability": 0.2}))
    hits = sum(1 for _ in range(2000) if faults.take("/helix/x") is not None)
    assert 300 < hits < 500
    assert faults.served[503] == hits
    assert faults.list()  # no count: it stays until cleared


def test_raw_frames_repeat_with_a_numbered_text() -> None:
    frames = parse_raw_frames(
        {"frames": [{"text": "t@N@"}, {"binary_base64": "AAE="}], "repeat": 2}
    )
    assert frames == [
        RawFrame(False, b"t0"), RawFrame(True, b"\x00\x01"),
        RawFrame(False, b"t1"), RawFrame(True, b"\x00\x01"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ([], "JSON object"),
        ({"frames": []}, "non-empty list"),
        ({"frames": [{"bytes": "x"}]}, r"frames\[0\] must be"),
        ({"frames": [{"binary_base64": "!!"}]}, "not base64"),
        ({"frames": [{"text": "x"}], "repeat": 0}, "repeat must be"),
        ({"frames": [{"text": "x"}], "repeat": 10**6}, "at most"),
    ],
)
def test_bad_raw_frames_are_rejected(body: object, problem: str) -> None:
    with pytest.raises(TwitchProblem, match=problem):
        parse_raw_frames(body)
