"""Repeated unplanned closes (4006) on the websocket transport, within a minute: Twitch keeps
each lost session's subscriptions as disabled ones for at least a minute and refuses a 4th of
one type+condition (429 "maximum subscriptions with type and condition exceeded").

Shared by tests/faults/test_websocket_quota.py and bench/fault_scenarios/websocket_4006.py.
Target (issue 11): every subscription back on the new session after each close, never that
429. The simulator runs at Twitch's own time, so that nothing disabled is forgotten sooner.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from kiss.simulator.testing import run_simulator_process
from tests.faults.control_plane import Plane, wait

USER = "4242"
# The user's own channel, types that need no scope or one the token holds.
TOPICS = (("stream.online", "1"), ("stream.offline", "1"), ("channel.update", "2"),
          ("channel.cheer", "1"))  # fmt: skip
SCOPES = ["bits:read"]
QUOTA = "type and condition exceeded"


def repeated_closes(redis_url: str, workdir: Path, *, closes: int, within: float) -> dict[str, Any]:
    with run_simulator_process(time_unit=1.0) as sim:
        plane = Plane(sim, redis_url, workdir, transport="websocket", req_rate_per_s=20.0,
                      extra_env={"KISSBOT_EVENTSUB__WS_BACKOFF_BASE": "0.5"})  # fmt: skip
        try:
            return _run(plane, closes, within)
        finally:
            plane.close()


def _live_session(plane: Plane) -> str | None:
    for session in plane.control.sessions():
        if session["status"] == "connected" and session.get("user_id") == USER:
            return str(session["id"])
    return None


def _on_session(plane: Plane, session_id: str) -> int:
    return sum(
        1
        for sub in plane.twitch_subscriptions()
        if sub["status"] == "enabled" and sub["transport"].get("session_id") == session_id
    )


def _listed_alike(plane: Plane) -> int:
    """The most subscriptions Twitch lists (enabled or disabled) for one type+condition."""
    alike = Counter(
        (sub["type"], tuple(sorted(sub["condition"].items())))
        for sub in plane.twitch_subscriptions()
    )
    return max(alike.values(), default=0)


def _run(plane: Plane, closes: int, within: float) -> dict[str, Any]:
    plane.store_user_token(USER, SCOPES)
    for type_, version in TOPICS:
        plane.desire([USER], type_, version)
    plane.start_worker("worker")
    plane.start_listener(users=[USER])
    wanted = len(TOPICS)
    session = wait(lambda: _live_session(plane), 60, "the user's session")
    wait(lambda: _on_session(plane, session) == wanted, 60, "the subscriptions on it")
    recoveries: list[float] = []
    peak_alike = _listed_alike(plane)
    started = time.monotonic()
    spacing = within / closes
    for number in range(closes):
        due = started + number * spacing
        time.sleep(max(0.0, due - time.monotonic()))
        old = session
        plane.control.close(old, 4006)
        closed = time.monotonic()
        session = wait(lambda: (s := _live_session(plane)) != old and s, 30, "a new session")  # noqa: B023
        try:
            wait(lambda: _on_session(plane, session) == wanted, 30, "all back")  # noqa: B023
            recoveries.append(round(time.monotonic() - closed, 2))
        except TimeoutError:
            recoveries.append(float("inf"))
        peak_alike = max(peak_alike, _listed_alike(plane))
    window = time.monotonic() - started
    refusals = sum(1 for message in plane.audit_messages() if QUOTA in message)
    figures: dict[str, Any] = {
        "events_sent": None,
        "subscriptions": wanted,
        "closes": closes,
        "closes_within_seconds": round(window, 1),
        "resume_seconds": max(recoveries),
        "recovery_seconds": recoveries,
        "all_back_after_each": all(r != float("inf") for r in recoveries),
        "quota_429s": refusals,
        "peak_listed_per_type_condition": peak_alike,
        "convergence_seconds": None,
        "bound_seconds": None,
    }
    figures["targets_met"] = figures["all_back_after_each"] and refusals == 0
    return figures
