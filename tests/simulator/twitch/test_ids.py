"""UUID-shaped ids from a counter."""

from __future__ import annotations

import uuid

from kiss.simulator.twitch.ids import UuidSequence


def test_ids_are_unique_uuid4_shaped() -> None:
    sequence = UuidSequence()
    ids = [sequence.next() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(uuid.UUID(value).version == 4 and len(value) == 36 for value in ids)
    assert UuidSequence().next()[:24] != ids[0][:24]  # another sequence, another base
