"""The topic catalog: versions, conditions, scopes, the cost rule and removed versions."""

from __future__ import annotations

import re

import pytest

from kiss.errors import InvalidCondition, UnknownTopic
from kiss.eventsub import catalog

_AUTOMOD = "moderator:manage:automod"
_CHAT = "user:read:chat"

SPEC_TABLE = [  # twitch-eventsub.md §7: type, version, required condition fields, a valid scope
    ("stream.online", "1", {"broadcaster_user_id"}, None),
    ("stream.offline", "1", {"broadcaster_user_id"}, None),
    ("channel.update", "2", {"broadcaster_user_id"}, None),
    (
        "channel.follow",
        "2",
        {"broadcaster_user_id", "moderator_user_id"},
        "moderator:read:followers",
    ),
    ("channel.subscribe", "1", {"broadcaster_user_id"}, "channel:read:subscriptions"),
    ("channel.subscription.gift", "1", {"broadcaster_user_id"}, "channel:read:subscriptions"),
    ("channel.subscription.message", "1", {"broadcaster_user_id"}, "channel:read:subscriptions"),
    ("channel.cheer", "1", {"broadcaster_user_id"}, "bits:read"),
    ("channel.raid", "1", set(), None),
    ("channel.ban", "1", {"broadcaster_user_id"}, "channel:moderate"),
    ("channel.moderator.add", "1", {"broadcaster_user_id"}, "moderation:read"),
    (
        "channel.channel_points_custom_reward_redemption.add",
        "1",
        {"broadcaster_user_id"},
        "channel:manage:redemptions",
    ),
    ("channel.poll.begin", "1", {"broadcaster_user_id"}, "channel:read:polls"),
    ("channel.prediction.begin", "1", {"broadcaster_user_id"}, "channel:manage:predictions"),
    ("channel.hype_train.begin", "2", {"broadcaster_user_id"}, "channel:read:hype_train"),
    ("channel.chat.message", "1", {"broadcaster_user_id", "user_id"}, "user:read:chat"),
    ("channel.chat.notification", "1", {"broadcaster_user_id", "user_id"}, "user:read:chat"),
    ("user.update", "1", {"user_id"}, None),
    ("channel.ad_break.begin", "1", {"broadcaster_user_id"}, "channel:read:ads"),
    (
        "channel.shoutout.create",
        "1",
        {"broadcaster_user_id", "moderator_user_id"},
        "moderator:read:shoutouts",
    ),
    # Added from Twitch's reference (issue 13).
    ("automod.message.hold", "1", {"broadcaster_user_id", "moderator_user_id"}, _AUTOMOD),
    ("automod.message.hold", "2", {"broadcaster_user_id", "moderator_user_id"}, _AUTOMOD),
    ("automod.message.update", "2", {"broadcaster_user_id", "moderator_user_id"}, _AUTOMOD),
    (
        "automod.settings.update",
        "1",
        {"broadcaster_user_id", "moderator_user_id"},
        "moderator:read:automod_settings",
    ),
    ("automod.terms.update", "1", {"broadcaster_user_id", "moderator_user_id"}, _AUTOMOD),
    ("channel.bits.use", "1", {"broadcaster_user_id"}, "bits:read"),
    ("channel.chat.clear_user_messages", "1", {"broadcaster_user_id", "user_id"}, _CHAT),
    ("channel.chat_settings.update", "1", {"broadcaster_user_id", "user_id"}, _CHAT),
    ("channel.chat.user_message_hold", "1", {"broadcaster_user_id", "user_id"}, _CHAT),
    ("channel.chat.user_message_update", "1", {"broadcaster_user_id", "user_id"}, _CHAT),
    ("channel.shared_chat.begin", "1", {"broadcaster_user_id"}, None),
    ("channel.shared_chat.end", "1", {"broadcaster_user_id"}, None),
    (
        "channel.moderate",
        "2",
        {"broadcaster_user_id", "moderator_user_id"},
        "moderator:read:warnings",
    ),
    (
        "channel.unban_request.resolve",
        "1",
        {"broadcaster_user_id", "moderator_user_id"},
        "moderator:manage:unban_requests",
    ),
    (
        "channel.suspicious_user.message",
        "1",
        {"broadcaster_user_id", "moderator_user_id"},
        "moderator:read:suspicious_users",
    ),
    (
        "channel.warning.send",
        "1",
        {"broadcaster_user_id", "moderator_user_id"},
        "moderator:read:warnings",
    ),
    (
        "channel.channel_points_automatic_reward_redemption.add",
        "2",
        {"broadcaster_user_id"},
        "channel:read:redemptions",
    ),
    ("channel.charity_campaign.progress", "1", {"broadcaster_user_id"}, "channel:read:charity"),
    ("channel.hype_train.end", "1", {"broadcaster_user_id"}, "channel:read:hype_train"),
    ("user.whisper.message", "1", {"user_id"}, "user:read:whispers"),
    ("user.authorization.revoke", "1", {"client_id"}, None),
    ("drop.entitlement.grant", "1", {"organization_id"}, None),
    ("extension.bits_transaction.create", "1", {"extension_client_id"}, None),
    (
        "channel.guest_star_guest.update",
        "beta",
        {"broadcaster_user_id", "moderator_user_id"},
        "moderator:read:guest_star",
    ),
]


@pytest.mark.parametrize(("type_", "version", "required", "scope"), SPEC_TABLE)
def test_spec_types_are_in_the_catalog(
    type_: str, version: str, required: set[str], scope: str | None
) -> None:
    topic = catalog.lookup(type_, version)
    assert set(topic.required) == required
    if scope is None:
        assert not topic.any_scope
        assert topic.cost(user_authorized_client=False) == 1
        assert topic.cost(user_authorized_client=True) == 0
    else:
        assert scope in topic.any_scope
        assert topic.cost(user_authorized_client=False) == 0


def test_lookup_without_version_takes_the_newest() -> None:
    assert catalog.lookup("channel.update").version == "2"


def test_removed_version_is_named_as_removed() -> None:
    assert catalog.is_removed("channel.follow", "1")
    with pytest.raises(UnknownTopic, match="removed"):
        catalog.lookup("channel.follow", "1")


@pytest.mark.parametrize(("type_", "version"), [("stream.onlin", "1"), ("stream.online", "9")])
def test_unknown_topic_names_type_and_version(type_: str, version: str) -> None:
    with pytest.raises(UnknownTopic, match=type_):
        catalog.lookup(type_, version)


def test_condition_missing_field_is_named() -> None:
    with pytest.raises(InvalidCondition, match="moderator_user_id"):
        catalog.lookup("channel.follow", "2").validate_condition({"broadcaster_user_id": "1"})


def test_condition_unknown_field_is_named() -> None:
    with pytest.raises(InvalidCondition, match="broadcaster_id"):
        catalog.lookup("stream.online").validate_condition({"broadcaster_id": "1"})


@pytest.mark.parametrize(
    "condition",
    [{}, {"from_broadcaster_user_id": "1", "to_broadcaster_user_id": "2"}],
)
def test_raid_needs_exactly_one_side(condition: dict[str, str]) -> None:
    with pytest.raises(InvalidCondition, match="exactly one"):
        catalog.lookup("channel.raid").validate_condition(condition)


def test_condition_values_must_be_strings() -> None:
    with pytest.raises(InvalidCondition, match="must be a string"):
        catalog.lookup("stream.online").validate_condition({"broadcaster_user_id": 12826})


def test_optional_field_may_be_given_or_left_out() -> None:
    topic = catalog.lookup("channel.channel_points_custom_reward_redemption.add")
    assert topic.validate_condition({"broadcaster_user_id": "1", "reward_id": ""}) == {
        "broadcaster_user_id": "1"
    }
    assert topic.validate_condition({"broadcaster_user_id": "1", "reward_id": "r"}) == {
        "broadcaster_user_id": "1",
        "reward_id": "r",
    }


def test_chat_types_name_the_app_token_scopes() -> None:
    assert catalog.lookup("channel.chat.message").app_token_scopes == {"user:bot", "channel:bot"}


def test_every_topic_key_is_unique_and_versions_are_numeric_or_beta() -> None:
    keys = [topic.key for topic in catalog.TOPICS]
    assert len(keys) == len(set(keys))
    assert all(topic.version.isdigit() != topic.beta for topic in catalog.TOPICS)
    assert all(topic.version == "beta" for topic in catalog.TOPICS if topic.beta)


def test_the_app_level_topics_are_webhook_only() -> None:
    webhook_only = sorted(t.type for t in catalog.TOPICS if t.transports == {"webhook"})
    assert webhook_only == [
        "drop.entitlement.grant",
        "extension.bits_transaction.create",
        "user.authorization.grant",
        "user.authorization.revoke",
    ]


def test_only_drop_entitlements_are_batched() -> None:
    assert [t.type for t in catalog.TOPICS if t.batched] == ["drop.entitlement.grant"]


def test_the_newest_version_is_the_default_and_v1_hype_trains_are_deprecated() -> None:
    assert catalog.lookup("channel.moderate").version == "2"
    assert catalog.lookup("automod.message.hold").version == "2"
    assert catalog.lookup("channel.hype_train.begin").version == "2"
    assert catalog.lookup("channel.hype_train.begin", "1").deprecated
    assert catalog.lookup("channel.guest_star_session.begin").version == "beta"


def test_channel_moderate_needs_one_scope_of_every_group() -> None:
    v1, v2 = catalog.lookup("channel.moderate", "1"), catalog.lookup("channel.moderate", "2")
    assert len(v1.scope_groups) == 7 and len(v2.scope_groups) == 8
    assert frozenset({"moderator:read:warnings", "moderator:manage:warnings"}) in v2.scope_groups
    assert v2.any_scope == frozenset().union(*v2.scope_groups)


@pytest.mark.parametrize("topic", catalog.TOPICS, ids=lambda t: f"{t.type}-v{t.version}")
def test_every_topic_names_its_channel_among_its_condition_fields(topic: catalog.Topic) -> None:
    fields = {*topic.required, *topic.optional, *topic.exactly_one_of}
    assert set(topic.channel_fields) <= fields
    # App-level topics (drops, extension transactions) are about no channel: webhook-only, so
    # they never reach the listener; every topic the hub can hold has a channel stream.
    assert topic.channel_fields or topic.transports == {"webhook"}
    if topic.any_scope:  # someone must have granted the scope
        assert topic.owner_fields and set(topic.owner_fields) <= fields


@pytest.mark.parametrize(
    ("type_", "version", "condition", "channel", "owner"),
    [
        ("stream.online", "1", {"broadcaster_user_id": "1"}, "1", "1"),
        ("user.update", "1", {"user_id": "7"}, "7", "7"),
        ("channel.chat.message", "1", {"broadcaster_user_id": "1", "user_id": "2"}, "1", "2"),
        ("channel.follow", "2", {"broadcaster_user_id": "1", "moderator_user_id": "3"}, "1", "3"),
        ("channel.raid", "1", {"to_broadcaster_user_id": "4"}, "4", "4"),
        ("channel.raid", "1", {"from_broadcaster_user_id": "5"}, "5", "5"),
        ("conduit.shard.disabled", "1", {"client_id": "c"}, "c", None),
        ("not.a.topic", "1", {"user_id": "8"}, "8", "8"),  # unknown types: the generic order
    ],
)
def test_channel_and_owner_of_a_subscription(
    type_: str, version: str, condition: dict[str, str], channel: str, owner: str | None
) -> None:
    assert catalog.channel_of(type_, version, condition) == channel
    assert catalog.owner_of(type_, version, condition) == owner


def test_an_entry_may_name_its_own_channel_field() -> None:
    topic = catalog.Topic("x.y", "1", required=("broadcaster_user_id", "user_id"),
                          channel_fields=("user_id",))  # fmt: skip
    assert topic.channel_of({"broadcaster_user_id": "1", "user_id": "2"}) == "2"
    assert topic.owner_fields == ("user_id", "broadcaster_user_id")


def test_channel_moderate_is_refused_until_every_group_is_granted() -> None:
    topic = catalog.lookup("channel.moderate", "2")
    condition = {"broadcaster_user_id": "1", "moderator_user_id": "2"}
    one_of_each = frozenset(sorted(group)[0] for group in topic.scope_groups)
    partial = one_of_each - {"moderator:read:warnings", "moderator:manage:warnings"}

    def grants(scopes: frozenset[str]) -> catalog.Authorizations:
        return lambda user: catalog.Authorization(scopes=scopes) if user == "2" else None

    assert topic.scope_problem(condition, "conduit", grants(one_of_each)) is None
    problem = topic.scope_problem(condition, "conduit", grants(partial))
    assert problem is not None and "moderator:manage:warnings or moderator:read:warnings" in problem


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("stream.onlin", "stream.online"),
        ("channel.folow", "channel.follow"),
        ("channel.chat.mesage", "channel.chat.message"),
    ],
)
def test_an_unknown_type_suggests_the_nearest_names(typed: str, suggested: str) -> None:
    with pytest.raises(UnknownTopic, match=f"did you mean {re.escape(suggested)}"):
        catalog.lookup(typed)


@pytest.mark.parametrize(
    ("type_", "given", "expected"),
    [
        ("stream.online", {}, {"broadcaster_user_id": "7"}),
        ("channel.follow", {}, {"broadcaster_user_id": "7", "moderator_user_id": "7"}),
        (
            "channel.follow",
            {"moderator_user_id": "8"},
            {"broadcaster_user_id": "7", "moderator_user_id": "8"},
        ),
        ("channel.raid", {}, {"to_broadcaster_user_id": "7"}),
        ("channel.raid", {"from_broadcaster_user_id": "7"}, {"from_broadcaster_user_id": "7"}),
        ("user.update", {}, {"user_id": "7"}),
        ("channel.chat.message", {"user_id": "9"}, {"broadcaster_user_id": "7", "user_id": "9"}),
    ],
)
def test_a_channels_condition_fills_the_channel_where_the_topic_names_it(
    type_: str, given: dict[str, str], expected: dict[str, str]
) -> None:
    assert catalog.lookup(type_).condition_for("7", given) == expected


def test_a_chat_condition_never_guesses_the_reading_account() -> None:
    with pytest.raises(InvalidCondition, match=r"missing condition field.*user_id"):
        catalog.lookup("channel.chat.message").condition_for("7", {})
