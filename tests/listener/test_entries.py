from __future__ import annotations

from typing import Any

import orjson
import pytest

from kiss.contracts.stream_entry import FIELDS
from kiss.errors import MalformedMessage
from kiss.eventsub.messages import Notification, parse_message
from kiss.eventsub.session import Gap
from kiss.keys import Keys
from kiss.listener.entries import (
    EntryBuilder,
    gap_entry,
    notification_entry,
    revocation_entry,
)
from kiss.listener.refusals import Refusals
from tests.listener.helpers import notification, notification_frame, revocation

KEYS = Keys("p")


def test_notification_entry_carries_every_contract_field() -> None:
    message = notification("m1", "42", event={"user_id": "7"})
    entry = notification_entry(KEYS, message, 1700000000.25)
    assert entry is not None
    fields = entry.fields()
    assert tuple(fields) == FIELDS
    assert fields["kind"] == "notification" and fields["message_id"] == "m1"
    assert (fields["type"], fields["version"], fields["channel_id"]) == (
        "channel.follow",
        "2",
        "42",
    )
    assert fields["subscription_id"] == "sub-42-channel.follow"
    assert fields["twitch_ts"] == message.metadata.message_timestamp
    assert float(fields["received_ts"]) == 1700000000.25
    assert orjson.loads(fields["event"]) == {"user_id": "7"}
    assert entry.stream == KEYS.channel_stream("42")
    assert entry.dedup == KEYS.dedup_message("m1")  # channel.follow has no event id


def test_types_with_an_event_id_dedupe_on_it_alone() -> None:
    message = notification("m2", "42", type_="stream.online", version="1", event={"id": "E9"})
    entry = notification_entry(KEYS, message, 1.0)
    assert entry is not None
    assert entry.dedup == KEYS.dedup_event("stream.online", "E9")
    without = notification("m3", "42", type_="stream.online", version="1", event={"id": ""})
    fallback = notification_entry(KEYS, without, 1.0)
    assert fallback is not None and fallback.dedup == KEYS.dedup_message("m3")


def test_revocation_entry_carries_the_reason() -> None:
    entry = revocation_entry(KEYS, revocation("r1", "42", "authorization_revoked"), 2.0)
    assert entry is not None
    assert entry.kind == "revocation"
    assert orjson.loads(entry.fields()["event"]) == {"status": "authorization_revoked"}


def test_gap_entry_spans_last_message_to_welcome() -> None:
    entry = gap_entry(KEYS, "42", Gap(10.0, 20.5, "4006 network error"), 1767225600.25)
    fields = entry.fields()
    assert fields["kind"] == "gap" and fields["channel_id"] == "42"
    assert fields["twitch_ts"] == "2026-01-01T00:00:00.250000000Z"  # when it was written
    assert orjson.loads(fields["event"]) == {
        "from": 10.0,
        "to": 20.5,
        "reason": "4006 network error",
    }
    assert entry.message_id.startswith("gap-")


def test_the_channel_is_the_conditions_else_the_events() -> None:
    builder = EntryBuilder(KEYS)
    first = builder.entry(notification("a", "42"), 1.0)
    assert first is not None and first.stream == KEYS.channel_stream("42")
    message = notification("c", "42")
    bare = message._replace(
        subscription=message.subscription._replace(id="no-condition", condition={}),
        event={"broadcaster_user_id": "77"},
    )
    entry = builder.entry(bare, 3.0)
    assert entry is not None and entry.channel_id == "77"
    assert entry.stream == KEYS.channel_stream("77")
    nowhere = bare._replace(event={"user": "x"})
    assert builder.entry(nowhere, 4.0) is None


def test_a_raid_goes_to_the_raided_channel() -> None:
    message = notification("r", "42", type_="channel.raid", version="1")
    raid = message._replace(
        subscription=message.subscription._replace(condition={"to_broadcaster_user_id": "99"})
    )
    entry = EntryBuilder(KEYS).entry(raid, 1.0)
    assert entry is not None and entry.channel_id == "99"


def test_the_fast_lane_builds_exactly_what_the_parsed_message_gives() -> None:
    frame = notification_frame("fast", "42", type_="stream.online", version="1", event={"id": "E1"})
    message = parse_message(frame)
    assert isinstance(message, Notification)
    slow = EntryBuilder(KEYS).entry(message, 1700000000.25)
    assert EntryBuilder(KEYS).notification(frame, repr(1700000000.25)) == slow


@pytest.mark.parametrize(
    "change",
    [
        lambda raw: raw["metadata"].update(message_type="session_keepalive"),
        lambda raw: raw["metadata"].update(message_timestamp="2026-01-01T00:00:00+02:00"),
        lambda raw: raw["metadata"].update(message_timestamp="yesterday"),
        lambda raw: raw["metadata"].update(message_id=""),
        lambda raw: raw["metadata"].pop("subscription_version"),
        lambda raw: raw["payload"].pop("event"),
        lambda raw: raw["payload"].update(events=[{"id": "1", "data": {}}]),
        lambda raw: raw["payload"]["subscription"].update(cost="1"),
        lambda raw: raw["payload"]["subscription"].update(created_at=None),
        lambda raw: raw["payload"]["subscription"].pop("condition"),
        lambda raw: raw["payload"]["subscription"].update(condition={}),
        lambda raw: raw["payload"]["subscription"].update(cost=True),
        lambda raw: raw["payload"].update(event=[1]),
        lambda raw: raw["payload"].update(event=None),
        lambda raw: raw["metadata"].update(message_id=123),
    ],
)
def test_the_fast_lane_leaves_anything_unusual_to_parse_message(change: Any) -> None:
    raw = orjson.loads(notification_frame("odd"))
    change(raw)
    assert EntryBuilder(KEYS).notification(orjson.dumps(raw), "1.0") is None


def test_the_fast_lane_writes_the_event_exactly_as_twitch_sent_it() -> None:
    frame = notification_frame("raw", "42", type_="stream.online", version="1", event={"id": "E"})
    spaced = frame.replace(b'"event":{"id":"E"}', b'"event": {"id": "E", "t": "caf\\u00e9"}')
    entry = EntryBuilder(KEYS).notification(spaced, "1.0")
    assert entry is not None
    assert entry.event == b'{"id": "E", "t": "caf\\u00e9"}'
    assert entry.dedup == KEYS.dedup_event("stream.online", "E")


def test_an_event_id_that_is_not_text_falls_back_on_the_message_id() -> None:
    frame = notification_frame("m9", "42", type_="stream.online", version="1", event={"id": 7})
    entry = EntryBuilder(KEYS).notification(frame, "1.0")
    assert entry is not None and entry.dedup == KEYS.dedup_message("m9")


def test_a_condition_without_a_broadcaster_is_left_to_parse_message() -> None:
    raid = orjson.loads(notification_frame("r", type_="channel.raid", version="1"))
    raid["payload"]["subscription"]["condition"] = {"to_broadcaster_user_id": "99"}
    frame = orjson.dumps(raid)
    assert EntryBuilder(KEYS).notification(frame, "1.0") is None
    message = parse_message(frame)
    assert isinstance(message, Notification)
    entry = EntryBuilder(KEYS).entry(message, 1.0)
    assert entry is not None and entry.channel_id == "99"


def test_the_fast_lane_declines_what_is_not_json() -> None:
    assert EntryBuilder(KEYS).notification(b"{not json", "1.0") is None
    assert EntryBuilder(KEYS).notification(b"[1, 2]", "1.0") is None


def through_both_lanes(builder: EntryBuilder, frame: bytes) -> object:
    """What the listener does with a frame: the fast lane, else the parsed one."""
    entry = builder.notification(frame, "1.0")
    if entry is not None:
        return entry
    message = parse_message(frame)
    assert isinstance(message, Notification)
    return builder.entry(message, 1.0)


@pytest.mark.parametrize(
    "channel", ["\u0000", "../../etc", "9001\n", "", "42 ", "\u0663\u0664", "1" * 21, "abc"]
)
def test_a_channel_id_that_is_not_decimal_digits_never_names_a_stream(channel: str) -> None:
    refusals = Refusals()
    builder = EntryBuilder(KEYS, refusals)
    assert through_both_lanes(builder, notification_frame("bad", channel)) is None
    assert refusals.counts["bad_channel_id"] + refusals.counts["no_channel"] == 1
    assert revocation_entry(KEYS, revocation("r", channel, "user_removed"), 1.0) is None


def test_unknown_types_are_refused_and_never_cached() -> None:
    refusals = Refusals()
    builder = EntryBuilder(KEYS, refusals)
    through_both_lanes(builder, notification_frame("ok", type_="stream.online", version="1"))
    for n in range(2000):
        frame = notification_frame(f"junk{n}", type_=f"junk.type.{n}", version="1")
        assert through_both_lanes(builder, frame) is None
    frame = notification_frame("v9", type_="stream.online", version="9")
    assert through_both_lanes(builder, frame) is None
    assert refusals.counts["unknown_type"] == 2001
    assert set(builder._topics) == {"stream.online"}  # one per catalog type seen, no more


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-02-30T10:00:00.1Z",  # no such day
        "2025-02-29T10:00:00Z",  # not a leap year
        "2026-13-01T10:00:00.5Z",
        "2026-12-03T24:00:00.5Z",
        "2026-12-03T10:60:00.5Z",
        "0000-01-01T00:00:00.5Z",
    ],
)
def test_an_impossible_timestamp_is_refused_not_raised(stamp: str) -> None:
    raw = orjson.loads(notification_frame("t"))
    raw["metadata"]["message_timestamp"] = stamp
    frame = orjson.dumps(raw)
    assert EntryBuilder(KEYS).notification(frame, "1.0") is None
    with pytest.raises(MalformedMessage) as refused:
        parse_message(frame)
    assert refused.value.kind == "bad_timestamp"


@pytest.mark.parametrize("depth", [300, 1100, 100_000])
def test_deep_nesting_is_refused_on_both_lanes_without_raising(depth: int) -> None:
    refusals = Refusals()
    builder = EntryBuilder(KEYS, refusals)
    raw = notification_frame("deep", event={"a": "HOLE"})
    frame = raw.replace(b'"HOLE"', b"[" * depth + b"]" * depth)
    entry = builder.notification(frame, "1.0")
    if entry is not None:  # the fast lane forwards raw JSON it could decode: it stays valid
        assert entry.channel_id == "42"
        return
    try:
        message = parse_message(frame)
    except MalformedMessage as error:
        assert error.kind == "too_deep"
        return
    assert isinstance(message, Notification)
    assert builder.entry(message, 1.0) is None
    assert refusals.counts["too_deep"] == 1


def test_an_event_parsed_but_too_deep_to_write_back_is_refused() -> None:
    """orjson reads 1,024 levels but writes 254: the parsed lane refuses what it cannot write."""
    refusals = Refusals()
    raw = orjson.loads(notification_frame("deep", event={"a": "HOLE"}))
    raw["metadata"]["message_timestamp"] = "2026-12-03T18:00:00+00:00"  # not the fast lane's
    frame = orjson.dumps(raw).replace(b'"HOLE"', b"[" * 300 + b"]" * 300)
    assert EntryBuilder(KEYS, refusals).notification(frame, "1.0") is None
    assert through_both_lanes(EntryBuilder(KEYS, refusals), frame) is None
    assert refusals.counts["too_deep"] == 1
