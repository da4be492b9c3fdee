"""Fault parsing and use-up counting."""

from __future__ import annotations

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
