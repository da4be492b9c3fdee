"""Twitch-shaped error bodies."""

from __future__ import annotations

from kiss.simulator.twitch.problems import TwitchProblem, too_many


def test_body_has_reason_status_and_message() -> None:
    assert too_many("conduit limit reached").body() == {
        "error": "Too Many Requests",
        "status": 429,
        "message": "conduit limit reached",
    }
    assert TwitchProblem(410, "gone").body()["error"] == "Gone"
