from __future__ import annotations

import pytest

from kiss.listener.dedup import RecentIds


def test_second_sighting_is_a_duplicate() -> None:
    recent = RecentIds(capacity=3)
    assert recent.seen("a") is False
    assert recent.seen("a") is True
    assert "a" in recent and len(recent) == 1


def test_the_last_capacity_ids_are_remembered_and_older_ones_forgotten() -> None:
    recent = RecentIds(capacity=100)
    for index in range(1000):
        recent.seen(str(index))
    assert all(str(index) in recent for index in range(900, 1000))
    assert "0" not in recent
    assert 100 <= len(recent) <= 200


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        RecentIds(capacity=0)
