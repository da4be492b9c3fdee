from __future__ import annotations

from kiss.client.presence import PresenceCard, group_figures, presence_fields

CARD = PresenceCard("k", "s", "bot:b", "1", "one", "b", "host-1", 100.0)


def test_group_figures_pick_the_bots_group() -> None:
    groups = [
        {"name": "bot:other", "pending": 9, "lag": 9},
        {"name": "bot:b", "pending": 2, "lag": 5},
    ]
    assert group_figures(groups, "bot:b") == (2, 5)
    assert group_figures([{"name": "bot:b", "pending": 0, "lag": None}], "bot:b") == (0, None)
    assert group_figures([], "bot:b") == (0, None)


def test_presence_fields() -> None:
    fields = presence_fields(CARD, 2, None, 160.5, "stopped")
    assert fields == {
        "channel_id": "1",
        "channel_name": "one",
        "bot": "b",
        "consumer": "host-1",
        "started_at": "100.0",
        "last_seen": "160.5",
        "pending": "2",
        "lag": "",
        "state": "stopped",
    }
