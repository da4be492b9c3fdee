"""The message model: every §1.2 type parses; anything malformed is MalformedMessage."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiss.errors import MalformedMessage
from kiss.eventsub.catalog import channel_of
from kiss.eventsub.messages import (
    Keepalive,
    Notification,
    NotificationDecoder,
    RawNotification,
    Reconnect,
    Revocation,
    Welcome,
    is_channel_id,
    parse_message,
    parse_notification,
)

TS = "2023-07-19T14:56:51.634234626Z"
SUBSCRIPTION = {
    "id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4",
    "status": "enabled",
    "type": "channel.follow",
    "version": "2",
    "cost": 0,
    "condition": {"broadcaster_user_id": "12826", "moderator_user_id": "12826"},
    "transport": {"method": "websocket", "session_id": "AQoQexAWVYKSTIu4ec_2VAxyuhAB"},
    "created_at": TS,
}


def frame(message_type: str, payload: dict[str, Any], **metadata: str) -> dict[str, Any]:
    return {
        "metadata": {
            "message_id": "96a3f3b5-5dec-4eed-908e-e11ee657416c",
            "message_type": message_type,
            "message_timestamp": TS,
            **metadata,
        },
        "payload": payload,
    }


WELCOME = frame(
    "session_welcome",
    {
        "session": {
            "id": "AQoQILE98gtqShGmLD7AM6yJThAB",
            "status": "connected",
            "connected_at": TS,
            "keepalive_timeout_seconds": 10,
            "reconnect_url": None,
            "recovery_url": None,
        }
    },
)
KEEPALIVE = frame("session_keepalive", {})
NOTIFICATION = frame(
    "notification",
    {"subscription": SUBSCRIPTION, "event": {"user_id": "1337", "broadcaster_user_id": "12826"}},
    subscription_type="channel.follow",
    subscription_version="2",
)
RECONNECT = frame(
    "session_reconnect",
    {
        "session": {
            "id": "AQoQILE98gtqShGmLD7AM6yJThAB",
            "status": "reconnecting",
            "keepalive_timeout_seconds": None,
            "reconnect_url": "wss://eventsub.wss.twitch.tv?...",
            "connected_at": TS,
        }
    },
)
REVOCATION = frame(
    "revocation",
    {"subscription": {**SUBSCRIPTION, "status": "authorization_revoked"}},
    subscription_type="channel.follow",
    subscription_version="2",
)
VALID_FRAMES = [WELCOME, KEEPALIVE, NOTIFICATION, RECONNECT, REVOCATION]


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (WELCOME, Welcome),
        (KEEPALIVE, Keepalive),
        (NOTIFICATION, Notification),
        (RECONNECT, Reconnect),
        (REVOCATION, Revocation),
    ],
)
def test_each_message_type_parses_to_its_class(raw: dict[str, Any], kind: type) -> None:
    message = parse_message(orjson.dumps(raw))
    assert isinstance(message, kind)
    assert message.metadata.message_id == raw["metadata"]["message_id"]


def test_welcome_keeps_keepalive_and_tolerates_recovery_url() -> None:
    message = parse_message(orjson.dumps(WELCOME))
    assert isinstance(message, Welcome)
    assert message.session.keepalive_timeout_seconds == 10
    assert message.session.recovery_url is None
    assert message.session.reconnect_url is None


def test_notification_routes_to_the_broadcaster() -> None:
    message = parse_message(orjson.dumps(NOTIFICATION))
    assert isinstance(message, Notification)
    assert message.subscription.channel_id == "12826"
    assert message.event == {"user_id": "1337", "broadcaster_user_id": "12826"}


def test_batched_notification_carries_events() -> None:
    raw = copy.deepcopy(NOTIFICATION)
    del raw["payload"]["event"]
    raw["payload"]["events"] = [{"id": "1", "data": {"a": 1}}]
    message = parse_message(orjson.dumps(raw))
    assert isinstance(message, Notification)
    assert message.event is None
    assert message.events == [{"id": "1", "data": {"a": 1}}]


def test_timestamp_keeps_nanosecond_text_and_converts_to_epoch() -> None:
    message = parse_message(orjson.dumps(KEEPALIVE))
    assert message.metadata.message_timestamp == TS
    assert message.metadata.timestamp == pytest.approx(1689778611.634234626)


def test_raid_routes_by_the_receiving_side_first() -> None:
    assert channel_of("channel.raid", "1", {"to_broadcaster_user_id": "7"}) == "7"
    assert channel_of("channel.raid", "1", {"from_broadcaster_user_id": "9"}) == "9"
    assert channel_of("channel.raid", "1", {}) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b"not json", "not JSON"),
        (b"[]", "JSON object"),
        (b'{"payload": {}}', "metadata"),
        (orjson.dumps(frame("session_keepalive", {}, message_timestamp="yesterday")), "RFC3339"),
        (orjson.dumps(frame("mystery", {})), "unknown message_type 'mystery'"),
        (orjson.dumps({**NOTIFICATION, "payload": {"subscription": SUBSCRIPTION}}), "neither"),
        (
            orjson.dumps(
                frame("session_reconnect", {**RECONNECT["payload"]}, message_id="x")
            ).replace(b'"wss://eventsub.wss.twitch.tv?..."', b"null"),
            "reconnect_url",
        ),
        (
            orjson.dumps(frame("notification", NOTIFICATION["payload"])),
            "subscription_type",
        ),
    ],
)
def test_malformed_frames_name_the_problem(text: bytes, problem: str) -> None:
    with pytest.raises(MalformedMessage, match=problem):
        parse_message(text)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


MESSAGE_TYPES = (Welcome, Keepalive, Notification, Reconnect, Revocation)


def assert_parses_or_is_malformed(data: bytes) -> None:
    """Any exception but MalformedMessage fails the test; so does a non-message result."""
    try:
        message = parse_message(data)
    except MalformedMessage as error:
        assert str(error)
        return
    assert isinstance(message, MESSAGE_TYPES)
    assert message.metadata.message_id


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_raise_anything_else(data: bytes) -> None:
    assert_parses_or_is_malformed(data)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    return found


@settings(max_examples=500, deadline=None)
@given(
    base=st.sampled_from(VALID_FRAMES),
    choice=st.integers(min_value=0, max_value=10_000),
    replacement=json_values,
    delete=st.booleans(),
)
def test_mutated_frames_parse_or_raise_malformed(
    base: dict[str, Any], choice: int, replacement: Any, delete: bool
) -> None:
    mutated = copy.deepcopy(base)
    paths = _paths(mutated)
    path = paths[choice % len(paths)]
    parent = mutated
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    assert_parses_or_is_malformed(orjson.dumps(mutated))


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("42", True),
        ("12345678901234567890", True),
        ("123456789012345678901", False),  # longer than any Twitch id will be
        ("", False),
        ("\u0000", False),
        ("../../etc", False),
        ("9001\n", False),
        ("\u0663\u0664", False),  # Arabic-Indic digits: isdigit() alone says yes
        ("-1", False),
        ("4 2", False),
        (42, False),
        (None, False),
    ],
)
def test_a_channel_id_is_ascii_decimal_digits(value: object, valid: bool) -> None:
    assert is_channel_id(value) is valid


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        (b"\xff\xfe", "not_json"),
        (b"[" * 2000 + b"]" * 2000, "too_deep"),
        (b"[1, 2]", "not_object"),
        (b'"text"', "not_object"),
        (b"{}", "malformed"),
    ],
)
def test_malformed_frames_say_their_kind(frame: bytes, kind: str) -> None:
    with pytest.raises(MalformedMessage) as refused:
        parse_message(frame)
    assert refused.value.kind == kind


# -- the hot path's decoder -----------------------------------------------------------------


def test_the_decoder_reads_a_notification_in_twitchs_shape_as_parse_message_does() -> None:
    frame = orjson.dumps(NOTIFICATION).replace(b'"event":{', b'"event": {"t": "caf\\u00e9", ')
    raw = NotificationDecoder().decode(frame)
    parsed = parse_message(frame)
    assert isinstance(raw, RawNotification) and isinstance(parsed, Notification)
    meta, sub = parsed.metadata, parsed.subscription
    assert (raw.message_id, raw.message_timestamp) == (meta.message_id, meta.message_timestamp)
    assert (raw.subscription_id, raw.type, raw.version) == (sub.id, sub.type, sub.version)
    assert raw.broadcaster_user_id == sub.condition["broadcaster_user_id"]
    assert raw.event == b'{"t": "caf\\u00e9", "user_id":"1337","broadcaster_user_id":"12826"}'
    assert orjson.loads(raw.event) == parsed.event  # the raw JSON, exactly as sent
    assert raw.parsed() == parsed


def changed(change: Any) -> bytes:
    raw = copy.deepcopy(NOTIFICATION)
    change(raw)
    return orjson.dumps(raw)


@pytest.mark.parametrize(
    "change",
    [
        lambda raw: raw["metadata"].update(message_type="session_keepalive"),
        lambda raw: raw["metadata"].update(message_timestamp="2026-01-01T00:00:00+02:00"),
        lambda raw: raw["metadata"].update(message_timestamp="2026-01-01T00:00:00.5z"),
        lambda raw: raw["metadata"].update(message_timestamp="yesterday"),
        lambda raw: raw["metadata"].update(message_id=""),
        lambda raw: raw["metadata"].update(message_id=123),
        lambda raw: raw["metadata"].pop("subscription_version"),
        lambda raw: raw["payload"].pop("event"),
        lambda raw: raw["payload"].update(event=None),
        lambda raw: raw["payload"].update(event=[1]),
        lambda raw: raw["payload"].update(events=[{"id": "1", "data": {}}]),
        lambda raw: raw["payload"].update(events=None),
        lambda raw: raw["payload"]["subscription"].update(cost="1"),
        lambda raw: raw["payload"]["subscription"].update(cost=True),
        lambda raw: raw["payload"]["subscription"].update(created_at=None),
        lambda raw: raw["payload"]["subscription"].pop("condition"),
        lambda raw: raw["payload"]["subscription"].update(transport=[]),
    ],
)
def test_the_decoder_leaves_anything_else_to_parse_message(change: Any) -> None:
    assert NotificationDecoder().decode(changed(change)) is None


@pytest.mark.parametrize("frame", [b"", b"{not json", b"[1, 2]", b"null", b"[" * 5000])
def test_the_decoder_declines_what_is_not_a_json_object(frame: bytes) -> None:
    assert NotificationDecoder().decode(frame) is None


def test_a_condition_without_a_broadcaster_is_decoded_with_none() -> None:
    frame = changed(lambda raw: raw["payload"]["subscription"].update(condition={"user_id": "1"}))
    raw = NotificationDecoder().decode(frame)
    assert raw is not None and raw.broadcaster_user_id is None
    assert raw.parsed().subscription.condition == {"user_id": "1"}


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
def test_an_impossible_timestamp_is_declined_also_after_a_real_one(stamp: str) -> None:
    decoder = NotificationDecoder()
    good = changed(lambda raw: raw["metadata"].update(message_timestamp=stamp[:8] + "01T10:00:00Z"))
    decoder.decode(good)  # the day checked once is remembered: a month's first day
    bad = changed(lambda raw: raw["metadata"].update(message_timestamp=stamp))
    assert decoder.decode(bad) is None
    with pytest.raises(MalformedMessage) as refused:
        parse_message(bad)
    assert refused.value.kind == "bad_timestamp"


def test_parse_notification_refuses_any_other_message() -> None:
    assert isinstance(parse_notification(orjson.dumps(NOTIFICATION)), Notification)
    with pytest.raises(MalformedMessage, match="expected a notification"):
        parse_notification(orjson.dumps(KEEPALIVE))


@settings(max_examples=500, deadline=None)
@given(
    choice=st.integers(min_value=0, max_value=10_000),
    replacement=json_values,
    delete=st.booleans(),
)
def test_what_the_decoder_accepts_parse_message_accepts_and_reads_alike(
    choice: int, replacement: Any, delete: bool
) -> None:
    mutated = copy.deepcopy(NOTIFICATION)
    paths = _paths(mutated)
    path = paths[choice % len(paths)]
    parent = mutated
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = replacement
    frame = orjson.dumps(mutated)
    raw = NotificationDecoder().decode(frame)
    if raw is None:
        return
    parsed = parse_message(frame)  # MalformedMessage here: the decoder let through too much
    assert isinstance(parsed, Notification)
    meta, sub = parsed.metadata, parsed.subscription
    assert (raw.message_id, raw.message_timestamp) == (meta.message_id, meta.message_timestamp)
    assert (raw.subscription_id, raw.type, raw.version) == (sub.id, sub.type, sub.version)
    assert raw.broadcaster_user_id == sub.condition.get("broadcaster_user_id")
    assert parsed.events is None and orjson.loads(raw.event) == parsed.event
