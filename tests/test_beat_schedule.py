from __future__ import annotations

from beat_schedule import TOKEN_VALIDATION_SECONDS, build_schedule
from kiss.settings import EventSubSection, Settings


def test_schedule_follows_reconcile_interval() -> None:
    schedule = build_schedule(Settings(eventsub=EventSubSection(reconcile_interval=30)))
    assert schedule["reconcile"] == {"task": "kiss.reconcile", "schedule": 30}
    assert schedule["resync"]["task"] == "kiss.resync"
    assert schedule["resync"]["schedule"] > 30
    assert schedule["validate-tokens"] == {
        "task": "kiss.validate_tokens",
        "schedule": TOKEN_VALIDATION_SECONDS,
    }
    assert TOKEN_VALIDATION_SECONDS == 3600
    assert schedule["trim-streams"]["task"] == "kiss.trim_streams"
