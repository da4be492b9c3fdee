from __future__ import annotations

import msgspec
import orjson
import pytest

from kiss.contracts.stream_entry import FIELDS
from kiss.errors import MalformedMessage
from kiss.eventsub.messages import (
    Notification,
    NotificationDecoder,
    RawNotification,
    parse_notification,
)
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


def raw(frame: bytes) -> RawNotification:
    """The hot path's form of a frame (the decoder must take it)."""
    message = NotificationDecoder().decode(frame)
    assert message is not None
    return message


def delivered(frame: bytes) -> RawNotification | Notification:
    """What the session machine delivers for a notification frame: its raw form if the hot
    path's decoder takes it, else the parsed one."""
    return NotificationDecoder().decode(frame) or parse_notification(frame)


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
    first = builder.entry(notification("a", "42"), "1.0")
    assert first is not None and first.stream == KEYS.channel_stream("42")
    message = notification("c", "42")
    bare = message._replace(
        subscription=message.subscription._replace(id="no-condition", condition={}),
        event={"broadcaster_user_id": "77"},
    )
    entry = builder.entry(bare, "3.0")
    assert entry is not None and entry.channel_id == "77"
    assert entry.stream == KEYS.channel_stream("77")
    nowhere = bare._replace(event={"user": "x"})
    assert builder.entry(nowhere, "4.0") is None


def test_a_raid_goes_to_the_raided_channel() -> None:
    message = notification("r", "42", type_="channel.raid", version="1")
    raid = message._replace(
        subscription=message.subscription._replace(condition={"to_broadcaster_user_id": "99"})
    )
    entry = EntryBuilder(KEYS).entry(raid, "1.0")
    assert entry is not None and entry.channel_id == "99"


def test_both_forms_build_the_same_entry() -> None:
    frame = notification_frame("fast", "42", type_="stream.online", version="1", event={"id": "E1"})
    slow = EntryBuilder(KEYS).entry(parse_notification(frame), "1700000000.25")
    assert EntryBuilder(KEYS).entry(raw(frame), "1700000000.25") == slow
    assert slow is not None and slow.dedup == KEYS.dedup_event("stream.online", "E1")


def test_the_raw_form_writes_the_event_exactly_as_twitch_sent_it() -> None:
    frame = notification_frame("raw", "42", type_="stream.online", version="1", event={"id": "E"})
    spaced = frame.replace(b'"event":{"id":"E"}', b'"event": {"id": "E", "t": "caf\\u00e9"}')
    entry = EntryBuilder(KEYS).entry(raw(spaced), "1.0")
    assert entry is not None
    assert entry.event == b'{"id": "E", "t": "caf\\u00e9"}'
    assert entry.dedup == KEYS.dedup_event("stream.online", "E")


def test_an_event_id_that_is_not_text_falls_back_on_the_message_id() -> None:
    frame = notification_frame("m9", "42", type_="stream.online", version="1", event={"id": 7})
    entry = EntryBuilder(KEYS).entry(raw(frame), "1.0")
    assert entry is not None and entry.dedup == KEYS.dedup_message("m9")


@pytest.mark.parametrize(
    ("condition", "event", "channel"),
    [
        ({"to_broadcaster_user_id": "99"}, {}, "99"),  # a raid: the raided channel
        ({"from_broadcaster_user_id": "98"}, {}, "98"),
        ({"broadcaster_user_id": ""}, {"broadcaster_user_id": "77"}, "77"),  # the event's
        ({"broadcaster_user_id": 5}, {"broadcaster_user_id": "76"}, "76"),
        ({}, {}, None),
    ],
)
def test_what_the_raw_form_does_not_settle_the_parsed_rules_do(
    condition: dict[str, object], event: dict[str, object], channel: str | None
) -> None:
    data = orjson.loads(notification_frame("r", type_="channel.raid", version="1", event=event))
    data["payload"]["subscription"]["condition"] = condition
    frame = orjson.dumps(data)
    refusals = Refusals()
    entry = EntryBuilder(KEYS, refusals).entry(raw(frame), "1.0")
    assert entry == EntryBuilder(KEYS).entry(parse_notification(frame), "1.0")
    assert (entry.channel_id if entry is not None else None) == channel
    assert refusals.counts["no_channel"] == (channel is None)


def test_a_raw_form_whose_full_parse_fails_is_refused_with_the_parsers_kind() -> None:
    """The decoder takes less than parse_message does (the property test in
    tests/eventsub/test_messages.py); should it ever take more, the frame is still refused."""
    refusals = Refusals()
    junk = raw(notification_frame("j", type_="junk.type", version="1"))
    assert (
        EntryBuilder(KEYS, refusals).entry(msgspec.structs.replace(junk, frame=b"[1"), "1.0")
        is None
    )
    assert refusals.counts["not_json"] == 1


@pytest.mark.parametrize(
    "channel", ["\u0000", "../../etc", "9001\n", "", "42 ", "\u0663\u0664", "1" * 21, "abc"]
)
def test_a_channel_id_that_is_not_decimal_digits_never_names_a_stream(channel: str) -> None:
    refusals = Refusals()
    builder = EntryBuilder(KEYS, refusals)
    assert builder.entry(delivered(notification_frame("bad", channel)), "1.0") is None
    assert refusals.counts["bad_channel_id"] + refusals.counts["no_channel"] == 1
    assert revocation_entry(KEYS, revocation("r", channel, "user_removed"), 1.0) is None


def test_unknown_types_are_refused_and_never_cached() -> None:
    refusals = Refusals()
    builder = EntryBuilder(KEYS, refusals)
    builder.entry(delivered(notification_frame("ok", type_="stream.online", version="1")), "1.0")
    for n in range(2000):
        frame = notification_frame(f"junk{n}", type_=f"junk.type.{n}", version="1")
        assert builder.entry(delivered(frame), "1.0") is None
    frame = notification_frame("v9", type_="stream.online", version="9")
    assert builder.entry(delivered(frame), "1.0") is None
    assert refusals.counts["unknown_type"] == 2001
    assert set(builder._topics) == {"stream.online"}  # one per catalog type seen, no more


@pytest.mark.parametrize("depth", [300, 1100, 100_000])
def test_deep_nesting_is_refused_on_both_forms_without_raising(depth: int) -> None:
    refusals = Refusals()
    builder = EntryBuilder(KEYS, refusals)
    frame = notification_frame("deep", event={"a": "HOLE"})
    frame = frame.replace(b'"HOLE"', b"[" * depth + b"]" * depth)
    message = NotificationDecoder().decode(frame)
    if message is not None:  # the raw form forwards JSON msgspec could read: it stays valid
        entry = builder.entry(message, "1.0")
        assert entry is not None and entry.channel_id == "42"
        return
    try:
        parsed = parse_notification(frame)
    except MalformedMessage as error:
        assert error.kind == "too_deep"
        return
    assert builder.entry(parsed, "1.0") is None
    assert refusals.counts["too_deep"] == 1


def test_an_event_parsed_but_too_deep_to_write_back_is_refused() -> None:
    """orjson reads 1,024 levels but writes 254: the parsed form refuses what it cannot write."""
    refusals = Refusals()
    data = orjson.loads(notification_frame("deep", event={"a": "HOLE"}))
    data["metadata"]["message_timestamp"] = "2026-12-03T18:00:00+00:00"  # not the raw form's
    frame = orjson.dumps(data).replace(b'"HOLE"', b"[" * 300 + b"]" * 300)
    assert NotificationDecoder().decode(frame) is None
    assert EntryBuilder(KEYS, refusals).entry(parse_notification(frame), "1.0") is None
    assert refusals.counts["too_deep"] == 1
