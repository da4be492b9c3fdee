"""Realistic payloads for every catalog type."""

from __future__ import annotations

import pytest

from kiss.eventsub import catalog
from kiss.simulator.payloads import BUILDERS, event_for


def test_every_catalog_type_has_a_builder() -> None:
    assert sorted(BUILDERS) == catalog.topic_types()


@pytest.mark.parametrize("topic", catalog.TOPICS, ids=lambda t: f"{t.type}-v{t.version}")
def test_payload_uses_the_condition_and_has_its_event_id(topic: catalog.Topic) -> None:
    condition = {name: "4242" for name in (*topic.required, *topic.exactly_one_of[:1])}
    event = event_for(topic, condition, 1_700_000_000.0)
    for name in condition:
        if name in event:
            assert event[name] == "4242"
    if "broadcaster_user_id" in condition:
        assert event["broadcaster_user_id"] == "4242" and event["broadcaster_user_login"]
    if topic.event_id_field is not None:
        assert event[topic.event_id_field]
        assert event_for(topic, condition, 0.0)[topic.event_id_field] != event[topic.event_id_field]


def test_chat_message_is_about_a_kilobyte() -> None:
    import orjson

    topic = catalog.lookup("channel.chat.message")
    event = event_for(topic, {"broadcaster_user_id": "1", "user_id": "2"}, 0.0)
    assert 700 <= len(orjson.dumps(event)) <= 1500
    assert event["message"]["fragments"][1]["emote"]["id"] == "25"
