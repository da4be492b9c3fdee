"""parse_entry: the listener's fields become typed events; bad entries are named."""

from __future__ import annotations

import pytest

from kiss.client.errors import MalformedEntry
from kiss.client.events import (
    GapEvent,
    NotificationEvent,
    RevocationEvent,
    entry_fields,
    parse_entry,
)
from kiss.contracts.stream_entry import Kind
from tests.client.conftest import entry


def test_a_notification_keeps_every_field() -> None:
    fields = entry("42", event={"id": "e1"}, message_id="m1")
    event = parse_entry("1700000000123-4", fields, delivery_count=2)
    assert isinstance(event, NotificationEvent)
    assert (event.kind, event.message_id, event.type, event.version) == (
        "notification",
        "m1",
        "stream.online",
        "1",
    )
    assert (event.channel_id, event.subscription_id) == ("42", "sub-42")
    assert event.event == {"id": "e1"}
    assert event.received_ts == pytest.approx(float(fields["received_ts"]))
    assert event.stream_ms == 1700000000123
    assert event.redelivered


@pytest.mark.parametrize(
    ("kind", "cls"),
    [("notification", NotificationEvent), ("revocation", RevocationEvent), ("gap", GapEvent)],
)
def test_each_kind_has_its_type(kind: Kind, cls: type) -> None:
    assert type(parse_entry("1-0", entry("1", kind=kind))) is cls


def test_revocation_and_gap_details() -> None:
    revocation = parse_entry("1-0", entry("1", kind="revocation", event={"status": "user_removed"}))
    assert isinstance(revocation, RevocationEvent) and revocation.reason == "user_removed"
    gap = parse_entry("1-0", entry("1", kind="gap", event={"from": "5", "to": 9, "reason": "x"}))
    assert isinstance(gap, GapEvent)
    assert (gap.gap_from, gap.gap_to, gap.reason) == (5.0, 9.0, "x")
    odd = parse_entry("1-0", entry("1", kind="gap", event=[]))
    assert isinstance(odd, GapEvent) and (odd.gap_from, odd.gap_to, odd.reason) == (None, None, "")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"kind": "party"}, "unknown kind 'party'"),
        ({"kind": ""}, "unknown kind ''"),
        ({"event": "{not json"}, "event is not JSON"),
        ({"received_ts": "yesterday"}, "received_ts 'yesterday' is not a number"),
    ],
)
def test_malformed_entries_are_named(change: dict[str, str], problem: str) -> None:
    with pytest.raises(MalformedEntry, match=problem) as caught:
        parse_entry("3-1", {**entry("1"), **change})
    assert "3-1" in str(caught.value)


def test_entry_fields_is_the_inverse() -> None:
    fields = entry("5", kind="revocation", event={"status": "version_removed"})
    event = parse_entry("9-9", fields)
    assert parse_entry("9-9", entry_fields(event)) == event


def test_the_first_names_stay_importable() -> None:
    import kiss.client

    assert kiss.client.Notification is NotificationEvent
    assert kiss.client.Revocation is RevocationEvent
    assert kiss.client.Gap is GapEvent
