"""The stream entry contract: every kind encodes and decodes back; bad fields are named."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest

from kiss.client.events import ChannelEvent
from kiss.contracts.stream_entry import (
    EVENT,
    FIELDS,
    GAP,
    KINDS,
    NOTIFICATION,
    REVOCATION,
    Decoded,
    Entry,
    EntryError,
    Kind,
    decode,
    encode,
    gap_event,
    revocation_event,
)

EVENTS: dict[str, Any] = {
    NOTIFICATION: {"user_id": "7", "text": "ünï 🎉", "badges": [{"id": "vip"}]},
    REVOCATION: revocation_event("authorization_revoked"),
    GAP: gap_event(10.0, 20.5, "4006 network error"),
}


def text_fields(entry: Entry) -> dict[str, str]:
    """The fields as a client with ``decode_responses`` reads them."""
    return {k: v.decode() if isinstance(v, bytes) else v for k, v in entry.fields().items()}


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_round_trips(kind: Kind) -> None:
    entry = encode(
        "s", "d", kind, "m1", "channel.follow", "2", "42", "sub-1",
        "2026-11-26T01:02:03.123456789Z", 1700000000.123456, EVENTS[kind],
    )  # fmt: skip
    assert (entry.stream, entry.dedup) == ("s", "d")
    assert tuple(entry.fields()) == FIELDS
    assert decode(text_fields(entry)) == Decoded(
        kind, "m1", "channel.follow", "2", "42", "sub-1", "2026-11-26T01:02:03.123456789Z",
        1700000000.123456, EVENTS[kind],
    )  # fmt: skip


def test_the_kinds_events_name_their_fields() -> None:
    assert EVENTS[REVOCATION] == {"status": "authorization_revoked"}
    assert EVENTS[GAP] == {"from": 10.0, "to": 20.5, "reason": "4006 network error"}


def test_the_event_is_last_and_the_decoded_order_is_the_fields() -> None:
    assert FIELDS[-1] == EVENT and Entry._fields[-1] == EVENT
    assert Decoded._fields == FIELDS


def test_the_client_event_starts_with_the_fields_in_order() -> None:
    # parse_entry builds a ChannelEvent from the decoded values by position.
    names = tuple(field.name for field in dataclasses.fields(ChannelEvent))
    assert names[: len(FIELDS)] == FIELDS


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"kind": "party"}, "unknown kind 'party'"),
        ({"kind": ""}, "unknown kind ''"),
        ({"event": "{not json"}, "event is not JSON"),
        ({"received_ts": "yesterday"}, "received_ts 'yesterday' is not a number"),
    ],
)
def test_bad_fields_are_named(change: dict[str, str], problem: str) -> None:
    entry = encode("s", "d", GAP, "m", "", "", "42", "", "", 1.0, EVENTS[GAP])
    with pytest.raises(EntryError, match=problem):
        decode({**text_fields(entry), **change})


def test_an_event_too_deep_for_json_is_refused_by_the_encoder() -> None:
    deep: Any = []
    for _ in range(300):
        deep = [deep]
    with pytest.raises(orjson.JSONEncodeError):
        encode("s", "d", NOTIFICATION, "m", "t", "1", "42", "", "", 1.0, deep)
