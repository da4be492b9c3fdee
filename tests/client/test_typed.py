"""Typed events: every catalog topic round-trips simulator payload -> stream entry -> class."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
import pytest
import redis

from kiss.client import (
    AutomodMessageHoldV2,
    ChannelChatMessage,
    ChannelModerate,
    DropEntitlementGrant,
    HubEventSubClient,
    MalformedEntry,
    Notification,
    StreamOnline,
    TypedBatch,
    TypedEvent,
    UserWhisperMessage,
)
from kiss.client import typed as typed_module
from kiss.client.events import parse_entry
from kiss.client.typed import topic_of, typed
from kiss.errors import UnknownTopic
from kiss.eventsub import catalog
from kiss.eventsub.events import EVENT_TYPES, Event
from kiss.keys import Keys
from kiss.simulator.twitch.payloads import event_for
from tests.client.conftest import FAST, entry
from tests.waiting import wait_for_async as wait_for

NOW = 1_700_000_000.0


def _condition(topic: catalog.Topic) -> dict[str, str]:
    return {name: "4242" for name in (*topic.required, *topic.exactly_one_of[:1])}


def _notification(topic: catalog.Topic, event: Any) -> Notification:
    fields = entry("4242", type_=topic.type, version=topic.version, event=event)
    parsed = parse_entry("1-0", fields)
    assert isinstance(parsed, Notification)
    return parsed


def _same_shape(raw: Any, decoded: Any, where: str) -> None:
    """Every key of the raw event is a field of the class and has a value there too."""
    if isinstance(raw, dict):
        assert isinstance(decoded, dict), where
        assert sorted(raw) == sorted(decoded), f"{where}: fields differ"
        for name, value in raw.items():
            _same_shape(value, decoded[name], f"{where}.{name}")
    elif isinstance(raw, list):
        assert isinstance(decoded, list) and len(raw) == len(decoded), where
        for n, (a, b) in enumerate(zip(raw, decoded, strict=True)):
            _same_shape(a, b, f"{where}[{n}]")
    else:
        assert (raw is None) == (decoded is None), f"{where}: {raw!r} became {decoded!r}"


@pytest.mark.parametrize("filled", [False, True], ids=["default", "filled"])
@pytest.mark.parametrize("topic", catalog.TOPICS, ids=lambda t: f"{t.type}-v{t.version}")
def test_every_topic_round_trips_with_no_field_missing(topic: catalog.Topic, filled: bool) -> None:
    raw = event_for(topic, _condition(topic), NOW, filled=filled)
    payload_type = EVENT_TYPES[topic.key]
    wrapped = typed(_notification(topic, raw), payload_type)
    if topic.batched:
        assert isinstance(wrapped, TypedBatch)
        decoded: Any = [msgspec.to_builtins(item) for item in wrapped]
        assert all(isinstance(item, payload_type) for item in wrapped)
    else:
        assert isinstance(wrapped, TypedEvent) and isinstance(wrapped.payload, payload_type)
        decoded = msgspec.to_builtins(wrapped.payload)
    _same_shape(raw, decoded, topic.type)


def test_every_event_class_has_its_topic() -> None:
    for key, cls in EVENT_TYPES.items():
        assert topic_of(cls).key == key


def chat_message() -> Notification:
    topic = catalog.lookup("channel.chat.message")
    return _notification(topic, event_for(topic, {"broadcaster_user_id": "1", "user_id": "2"}, NOW))


def test_fields_read_as_attributes_and_the_raw_dict_stays() -> None:
    notification = chat_message()
    event = TypedEvent(notification, ChannelChatMessage)
    assert event.chatter_user_name == notification.event["chatter_user_name"]
    assert event.message.text == notification.event["message"]["text"]
    assert event.message.fragments[1].emote.id == "25"
    assert event.payload.badges[0].set_id == "moderator"
    assert event.raw is notification.event and event.notification is notification


def test_the_payload_is_decoded_only_when_read() -> None:
    notification = chat_message()
    event = TypedEvent(notification, ChannelChatMessage)
    undecoded: Any = typed_module._UNDECODED
    _ = event.notification.stream_id, event.raw  # the envelope and the dict cost nothing
    assert event._payload is undecoded
    first = event.payload
    assert event.payload is first  # decoded once


def test_timestamps_are_parsed() -> None:
    topic = catalog.lookup("stream.online")
    event = TypedEvent(_notification(topic, event_for(topic, _condition(topic), NOW)), StreamOnline)
    assert isinstance(event.started_at, datetime) and event.started_at.timestamp() == NOW


def test_unknown_fields_are_ignored_and_a_field_twitch_drops_is_none() -> None:
    topic = catalog.lookup("channel.chat.message")
    raw = event_for(topic, {"broadcaster_user_id": "1", "user_id": "2"}, NOW)
    raw["a_field_from_2030"] = {"x": 1}
    raw["message"]["fragments"][0]["sparkle"] = True
    del raw["color"], raw["reply"]
    event = TypedEvent(_notification(topic, raw), ChannelChatMessage)
    assert event.color is None and event.reply is None
    assert event.chatter_user_id == raw["chatter_user_id"]
    assert not hasattr(event.payload, "a_field_from_2030")


def test_a_new_enumeration_value_decodes() -> None:
    topic = catalog.lookup("channel.moderate", "1")
    raw = event_for(topic, _condition(topic), NOW)
    raw["action"] = "an_action_twitch_adds_later"
    assert TypedEvent(_notification(topic, raw), ChannelModerate).action == raw["action"]


def test_a_field_of_the_wrong_type_is_a_malformed_entry() -> None:
    topic = catalog.lookup("channel.chat.message")
    raw = event_for(topic, {"broadcaster_user_id": "1", "user_id": "2"}, NOW)
    raw["badges"] = "not a list"
    with pytest.raises(MalformedEntry, match=r"channel.chat.message v1 event: .*badges"):
        _ = TypedEvent(_notification(topic, raw), ChannelChatMessage).badges


def test_a_batch_is_a_sequence_of_items() -> None:
    topic = catalog.lookup("drop.entitlement.grant")
    raw = event_for(topic, {"organization_id": "org"}, NOW) * 3
    batch = typed(_notification(topic, raw), DropEntitlementGrant)
    assert isinstance(batch, TypedBatch) and len(batch) == 3
    assert batch[0].data.organization_id == "org"


def test_a_class_that_is_not_an_event_class_is_refused() -> None:
    class Mine(Event):
        pass

    with pytest.raises(UnknownTopic, match="Mine"):
        topic_of(Mine)


def make_client(redis_url: str, keys: Keys) -> HubEventSubClient:
    return HubEventSubClient(
        "100", "chan100", redis_url, bot="typed", keys=keys, options=FAST, start="beginning"
    )


async def test_a_handler_registered_by_class_gets_typed_events(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    client = make_client(redis_url, keys)
    seen: list[str] = []
    versions: list[str] = []
    strings: list[Notification] = []

    @client.on(ChannelChatMessage)
    async def chat(event: TypedEvent[ChannelChatMessage]) -> None:
        seen.append(f"{event.chatter_user_login}: {event.message.text}")

    @client.on(AutomodMessageHoldV2)
    def held(event: TypedEvent[AutomodMessageHoldV2]) -> None:
        versions.append(event.notification.version)

    @client.on("channel.chat.message")  # by topic string, as before: the plain notification
    async def plain(event: Notification) -> None:
        strings.append(event)

    assert chat.__name__ == "chat"  # the decorator gives the handler back
    topic = catalog.lookup("channel.chat.message")
    raw = event_for(topic, {"broadcaster_user_id": "100", "user_id": "7"}, NOW)
    stream = keys.channel_stream("100")
    redis_client.xadd(stream, entry("100", type_="channel.chat.message", event=raw))
    hold = catalog.lookup("automod.message.hold", "1")
    for version in ("1", "2"):
        hold_event = event_for(catalog.lookup(hold.type, version), _condition(hold), NOW)
        redis_client.xadd(stream, entry("100", type_=hold.type, version=version, event=hold_event))
    await client.start()
    try:
        await wait_for(lambda: client.handled == 3, what="3 events handled")
        assert seen == [f"{raw['chatter_user_login']}: {raw['message']['text']}"]
        assert versions == ["2"]  # the v2 class does not get v1 notifications
        assert [e.event for e in strings] == [raw]
    finally:
        await client.stop()


def test_registering_a_class_that_is_not_an_event_class_fails_at_once(
    redis_url: str, keys: Keys
) -> None:
    client = make_client(redis_url, keys)
    with pytest.raises(UnknownTopic):
        client.on(dict)  # type: ignore[arg-type]
    assert UserWhisperMessage in EVENT_TYPES.values()
