"""Realistic payloads for every catalog type."""

from __future__ import annotations

import pytest

from kiss.eventsub import catalog
from kiss.eventsub.events import EVENT_TYPES
from kiss.simulator.twitch.payloads import event_for


def test_every_catalog_topic_has_an_event_description() -> None:
    assert sorted(EVENT_TYPES) == sorted(topic.key for topic in catalog.TOPICS)


@pytest.mark.parametrize("topic", catalog.TOPICS, ids=lambda t: f"{t.type}-v{t.version}")
def test_payload_uses_the_condition_and_has_its_event_id(topic: catalog.Topic) -> None:
    condition = {name: "4242" for name in (*topic.required, *topic.exactly_one_of[:1])}
    batch = event_for(topic, condition, 1_700_000_000.0)
    event = batch[0] if topic.batched else batch
    for name in condition:
        if name in event:
            assert event[name] == "4242"
    if "broadcaster_user_id" in condition:
        # The charity campaign events name it broadcaster_id, as Twitch does.
        prefix = "broadcaster_user" if "broadcaster_user_id" in event else "broadcaster"
        assert event[f"{prefix}_id"] == "4242" and event[f"{prefix}_login"] == "user4242"
    if topic.event_id_field is not None:
        assert event[topic.event_id_field]
        again = event_for(topic, condition, 0.0)
        assert again[topic.event_id_field] != event[topic.event_id_field]


def test_chat_message_is_about_a_kilobyte() -> None:
    import orjson

    topic = catalog.lookup("channel.chat.message")
    event = event_for(topic, {"broadcaster_user_id": "1", "user_id": "2"}, 0.0)
    assert 700 <= len(orjson.dumps(event)) <= 1500
    assert event["message"]["fragments"][1]["emote"]["id"] == "25"


def test_a_chat_message_has_every_field_twitch_documents() -> None:
    topic = catalog.lookup("channel.chat.message")
    event = event_for(topic, {"broadcaster_user_id": "1", "user_id": "2"}, 0.0)
    # TwitchIO 3 drops a chat message without it (issue 13).
    assert "channel_points_animation_id" in event and event["reply"] is None
    text = "".join(fragment["text"] for fragment in event["message"]["fragments"])
    assert text == event["message"]["text"]


def test_filled_events_carry_a_value_in_every_nullable_field() -> None:
    topic = catalog.lookup("channel.chat.message")
    event = event_for(topic, {"broadcaster_user_id": "1", "user_id": "2"}, 0.0, filled=True)
    assert event["reply"]["parent_user_login"] == f"user{event['reply']['parent_user_id']}"
    assert event["cheer"] == {"bits": 1000}


def test_a_whisper_reaches_the_user_of_the_condition() -> None:
    event = event_for(catalog.lookup("user.whisper.message"), {"user_id": "77"}, 0.0)
    assert (event["to_user_id"], event["to_user_login"]) == ("77", "user77")


def test_a_batched_topic_gives_a_list_of_items() -> None:
    topic = catalog.lookup("drop.entitlement.grant")
    events = event_for(topic, {"organization_id": "org-1"}, 0.0)
    assert isinstance(events, list) and events[0]["data"]["organization_id"] == "org-1"
