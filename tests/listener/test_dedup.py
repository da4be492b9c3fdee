from __future__ import annotations

import pytest

from kiss.listener.dedup import RecentIds


def test_second_sighting_is_a_duplicate() -> None:
    recent = RecentIds(capacity=3)
    assert recent.seen("a") is False
    assert recent.seen("a") is True
    assert "a" in recent and len(recent) == 1


def test_oldest_ids_are_forgotten_past_the_capacity() -> None:
    recent = RecentIds(capacity=2)
    for message_id in ("a", "b", "c"):
        recent.seen(message_id)
    assert "a" not in recent
    assert recent.seen("b") is True and recent.seen("c") is True


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        RecentIds(capacity=0)
