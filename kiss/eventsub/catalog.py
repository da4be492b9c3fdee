"""The subscription types the hub knows (twitch-eventsub.md §7 and the Twitch reference).

Each topic says its version, condition fields, the scopes of which the token needs one,
its cost rule, and, where the event carries one, the field that identifies the event
itself (used to drop duplicates that arrive under different message ids).

The rules that several processes apply live here, beside the topic, and every process calls
them: which condition field names the channel stream its events go to (``channel_of``),
which user's authorization it needs (``owner_of``), and whether the stored tokens can back
it on a transport (``scope_problem``: the control process when a bot asks, the planner
before it asks Twitch).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from kiss.errors import InvalidCondition, UnknownTopic

ALL_TRANSPORTS = frozenset({"websocket", "webhook", "conduit"})

# The condition field that names the channel stream, by preference: a topic's channel is the
# first of these among its condition fields (``Topic.channel_fields``). A chat topic has both
# broadcaster_user_id and user_id: its events belong to the broadcaster's channel.
CHANNEL_FIELD_ORDER = (
    "broadcaster_user_id",
    "to_broadcaster_user_id",
    "from_broadcaster_user_id",
    "user_id",
    "client_id",
)
# The user whose authorization a subscription needs (whose token creates it on a websocket),
# by preference: the chatting user, then the moderator, then the broadcaster.
OWNER_FIELD_ORDER = (
    "user_id",
    "moderator_user_id",
    "broadcaster_user_id",
    "to_broadcaster_user_id",
    "from_broadcaster_user_id",
)


@dataclass(frozen=True, slots=True)
class Authorization:
    """What the hub knows of one user's grant to its client id: a stored token's scopes, or
    why that token is invalid."""

    scopes: frozenset[str] = frozenset()
    invalid: str = ""  # non-empty: the stored token is invalid, and why


# user id -> that user's Authorization, None when the hub stores no token for them.
Authorizations = Callable[[str], Authorization | None]


def _first(condition: Mapping[str, Any], fields: tuple[str, ...]) -> str | None:
    for name in fields:
        value = condition.get(name)
        if isinstance(value, str) and value:
            return value
    return None


@dataclass(frozen=True)
class Topic:
    type: str
    version: str
    required: tuple[str, ...] = ("broadcaster_user_id",)
    optional: tuple[str, ...] = ()
    exactly_one_of: tuple[str, ...] = ()
    any_scope: frozenset[str] = frozenset()
    event_id_field: str | None = None
    transports: frozenset[str] = ALL_TRANSPORTS
    # App-token (conduit/webhook) chat types need these granted by the bot and the channel.
    app_token_scopes: frozenset[str] = field(default=frozenset())
    # Besides one of any_scope, one scope of each group (channel.moderate needs eight).
    scope_groups: tuple[frozenset[str], ...] = ()
    beta: bool = False  # Twitch may change or drop it without notice; version "beta"
    deprecated: bool = False  # still served, but Twitch names its successor
    batched: bool = False  # the notification carries ``events`` (a list), not ``event``
    # Empty: derived from the condition fields (CHANNEL_FIELD_ORDER, OWNER_FIELD_ORDER).
    channel_fields: tuple[str, ...] = ()
    owner_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        fields = (*self.required, *self.optional, *self.exactly_one_of)
        if not self.channel_fields:
            derived = tuple(name for name in CHANNEL_FIELD_ORDER if name in fields)
            object.__setattr__(self, "channel_fields", derived)
        if not self.owner_fields:
            derived = tuple(name for name in OWNER_FIELD_ORDER if name in fields)
            object.__setattr__(self, "owner_fields", derived)

    @property
    def key(self) -> tuple[str, str]:
        return (self.type, self.version)

    def channel_of(self, condition: Mapping[str, Any]) -> str | None:
        """The channel whose stream this subscription's events go to, or None."""
        return _first(condition, self.channel_fields)

    def owner_of(self, condition: Mapping[str, Any]) -> str | None:
        """The user who must have authorized this subscription (whose token creates it on a
        websocket), or None."""
        return _first(condition, self.owner_fields)

    def scope_problem(
        self, condition: Mapping[str, Any], transport: str, known: Authorizations
    ) -> str | None:
        """Why the stored tokens cannot back this subscription on ``transport``, or None.

        The owner must have granted one of ``any_scope`` and one of each of ``scope_groups``
        (``channel.moderate``: one read-or-manage scope per kind of action). On an app token
        (conduit, webhook) a chat type also needs ``user:bot`` from the chatting user and
        ``channel:bot`` from the broadcaster (unless they are the same user). An invalid
        stored token refuses, and so does the owner's on a websocket whatever the type (it
        creates the subscription). With no stored token, a websocket subscription is refused
        (it needs that user's token); an app-token one goes ahead: the user may have
        authorized the client elsewhere, and Twitch's answer becomes the outcome.
        """
        where = f"{self.type} v{self.version}"
        owner = self.owner_of(condition) or ""
        needs: list[tuple[str, frozenset[str]]] = []
        if transport == "websocket":
            needs.append((owner, frozenset()))  # a valid token, whatever its scopes
        if self.any_scope:
            needs.append((owner, self.any_scope))
        needs.extend((owner, group) for group in self.scope_groups)
        if transport != "websocket" and self.app_token_scopes:
            bot = str(condition.get("user_id") or "")
            channel = str(condition.get("broadcaster_user_id") or "")
            needs.append((bot, frozenset({"user:bot"})))
            if channel and channel != bot:
                needs.append((channel, frozenset({"channel:bot"})))
        for user_id, any_of in needs:
            grant = known(user_id)
            if grant is not None and grant.invalid:
                return f"{where}: token of user {user_id} is invalid: {grant.invalid}"
            if not any_of or (grant is None and transport != "websocket"):
                continue
            if grant is None or not grant.scopes & any_of:
                have = "no stored token" if grant is None else ", ".join(sorted(grant.scopes))
                return (
                    f"{where}: missing scope: user {user_id} has not granted "
                    f"{' or '.join(sorted(any_of))} "
                    f"(has: {have or 'none'})"
                )
        return None

    @property
    def needs_authorization(self) -> bool:
        """Types that need a scope cost 0; types that only name a user cost 1 (§2)."""
        return bool(self.any_scope)

    def cost(self, user_authorized_client: bool) -> int:
        if self.needs_authorization or user_authorized_client:
            return 0
        return 1

    def condition_for(self, channel_id: str, given: Mapping[str, str]) -> dict[str, str]:
        """The condition of a subscription for ``channel_id``: ``given``, with the channel
        filled in where the topic names it (its first channel field, e.g.
        ``broadcaster_user_id``) and the broadcaster as its own moderator
        (``moderator_user_id``), then validated. A chat type's ``user_id`` (which account
        reads the chat) is never guessed: the caller gives it."""
        wanted = dict(given)
        fields = {*self.required, *self.optional}
        one_of = set(self.exactly_one_of)  # channel.raid: raids into this channel, unless told
        for name in (*self.channel_fields[:1], "moderator_user_id"):
            if name == "user_id":
                continue
            if name in fields or (name in one_of and not one_of & wanted.keys()):
                wanted.setdefault(name, channel_id)
        if self.channel_fields[:1] == ("user_id",):  # user.* topics: the channel is the user
            wanted.setdefault("user_id", channel_id)
        return self.validate_condition(wanted)

    def validate_condition(self, condition: Mapping[str, Any]) -> dict[str, str]:
        """The condition as Twitch wants it, or InvalidCondition naming the problem."""
        if not isinstance(condition, Mapping):
            raise InvalidCondition(f"{self.type}: condition must be an object")
        allowed = set(self.required) | set(self.optional) | set(self.exactly_one_of)
        unknown = sorted(set(condition) - allowed)
        if unknown:
            raise InvalidCondition(
                f"{self.type} v{self.version}: unknown condition field(s) {', '.join(unknown)}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
        missing = [name for name in self.required if not condition.get(name)]
        if missing:
            raise InvalidCondition(
                f"{self.type} v{self.version}: missing condition field(s) {', '.join(missing)}"
            )
        if self.exactly_one_of:
            present = [name for name in self.exactly_one_of if condition.get(name)]
            if len(present) != 1:
                raise InvalidCondition(
                    f"{self.type} v{self.version}: exactly one of "
                    f"{', '.join(self.exactly_one_of)} is required"
                )
        cleaned: dict[str, str] = {}
        for name, value in condition.items():
            if value in (None, ""):
                continue
            if not isinstance(value, str):
                raise InvalidCondition(
                    f"{self.type}: condition field {name} must be a string, got {value!r}"
                )
            cleaned[name] = value
        return cleaned


def _t(type_: str, version: str = "1", **kwargs: Any) -> Topic:
    for name in ("any_scope", "app_token_scopes", "transports"):
        if name in kwargs:
            kwargs[name] = frozenset(kwargs[name])
    for name in ("required", "optional", "exactly_one_of"):
        if name in kwargs:
            kwargs[name] = tuple(kwargs[name])
    if "scope_groups" in kwargs:
        kwargs["scope_groups"] = tuple(frozenset(group) for group in kwargs["scope_groups"])
    return Topic(type_, version, **kwargs)


_MOD = ("broadcaster_user_id", "moderator_user_id")
_CHAT = ("broadcaster_user_id", "user_id")
_CHAT_SCOPES = {"user:read:chat"}
_CHAT_APP = {"user:bot", "channel:bot"}
_SUBS = {"channel:read:subscriptions"}
_REDEMPTIONS = {"channel:read:redemptions", "channel:manage:redemptions"}
_POLLS = {"channel:read:polls", "channel:manage:polls"}
_PREDICTIONS = {"channel:read:predictions", "channel:manage:predictions"}
_SHOUTOUTS = {"moderator:read:shoutouts", "moderator:manage:shoutouts"}
_SHIELD = {"moderator:read:shield_mode", "moderator:manage:shield_mode"}
_AUTOMOD = {"moderator:manage:automod"}
_UNBAN_REQUESTS = {"moderator:read:unban_requests", "moderator:manage:unban_requests"}
_WARNINGS = {"moderator:read:warnings", "moderator:manage:warnings"}
_GUEST_STAR = {
    "channel:read:guest_star",
    "channel:manage:guest_star",
    "moderator:read:guest_star",
    "moderator:manage:guest_star",
}
_WEBHOOK = {"webhook"}


def _read_or_manage(*things: str) -> list[set[str]]:
    return [{f"moderator:read:{thing}", f"moderator:manage:{thing}"} for thing in things]


# channel.moderate needs one scope of every group (Twitch's reference lists them).
_MODERATE_V1 = (
    *_read_or_manage(
        "blocked_terms", "chat_settings", "unban_requests", "banned_users", "chat_messages"
    ),
    {"moderator:read:moderators"},
    {"moderator:read:vips"},
)
_MODERATE_V2 = (*_MODERATE_V1, *_read_or_manage("warnings"))
_MODERATE_ANY: set[str] = set().union(*_MODERATE_V2)

TOPICS: tuple[Topic, ...] = (
    _t("stream.online", event_id_field="id"),
    _t("stream.offline"),
    _t("channel.update", "2"),
    _t("channel.update", "1"),
    _t("user.update", required=("user_id",)),
    _t("channel.follow", "2", required=_MOD, any_scope={"moderator:read:followers"}),
    _t("channel.subscribe", any_scope=_SUBS),
    _t("channel.subscription.end", any_scope=_SUBS),
    _t("channel.subscription.gift", any_scope=_SUBS),
    _t("channel.subscription.message", any_scope=_SUBS),
    _t("channel.cheer", any_scope={"bits:read"}),
    _t(
        "channel.raid",
        required=(),
        exactly_one_of=("from_broadcaster_user_id", "to_broadcaster_user_id"),
    ),
    _t("channel.ban", any_scope={"channel:moderate"}),
    _t("channel.unban", any_scope={"channel:moderate"}),
    _t("channel.moderator.add", any_scope={"moderation:read"}),
    _t("channel.moderator.remove", any_scope={"moderation:read"}),
    _t("channel.vip.add", any_scope={"channel:read:vips", "channel:manage:vips"}),
    _t("channel.vip.remove", any_scope={"channel:read:vips", "channel:manage:vips"}),
    _t(
        "channel.channel_points_custom_reward.add",
        any_scope=_REDEMPTIONS,
    ),
    _t(
        "channel.channel_points_custom_reward.update",
        optional=("reward_id",),
        any_scope=_REDEMPTIONS,
    ),
    _t(
        "channel.channel_points_custom_reward.remove",
        optional=("reward_id",),
        any_scope=_REDEMPTIONS,
    ),
    _t(
        "channel.channel_points_custom_reward_redemption.add",
        optional=("reward_id",),
        any_scope=_REDEMPTIONS,
        event_id_field="id",
    ),
    _t(
        "channel.channel_points_custom_reward_redemption.update",
        optional=("reward_id",),
        any_scope=_REDEMPTIONS,
    ),
    _t("channel.poll.begin", any_scope=_POLLS, event_id_field="id"),
    _t("channel.poll.progress", any_scope=_POLLS),
    _t("channel.poll.end", any_scope=_POLLS, event_id_field="id"),
    _t("channel.prediction.begin", any_scope=_PREDICTIONS, event_id_field="id"),
    _t("channel.prediction.progress", any_scope=_PREDICTIONS),
    _t("channel.prediction.lock", any_scope=_PREDICTIONS, event_id_field="id"),
    _t("channel.prediction.end", any_scope=_PREDICTIONS, event_id_field="id"),
    _t("channel.hype_train.begin", "2", any_scope={"channel:read:hype_train"}, event_id_field="id"),
    _t("channel.hype_train.progress", "2", any_scope={"channel:read:hype_train"}),
    _t("channel.hype_train.end", "2", any_scope={"channel:read:hype_train"}, event_id_field="id"),
    _t("channel.goal.begin", any_scope={"channel:read:goals"}),
    _t("channel.goal.progress", any_scope={"channel:read:goals"}),
    _t("channel.goal.end", any_scope={"channel:read:goals"}),
    _t(
        "channel.chat.message",
        required=_CHAT,
        any_scope=_CHAT_SCOPES,
        app_token_scopes=_CHAT_APP,
        event_id_field="message_id",
    ),
    _t(
        "channel.chat.notification",
        required=_CHAT,
        any_scope=_CHAT_SCOPES,
        app_token_scopes=_CHAT_APP,
        event_id_field="message_id",
    ),
    _t("channel.chat.clear", required=_CHAT, any_scope=_CHAT_SCOPES, app_token_scopes=_CHAT_APP),
    _t(
        "channel.chat.message_delete",
        required=_CHAT,
        any_scope=_CHAT_SCOPES,
        app_token_scopes=_CHAT_APP,
    ),
    _t("channel.ad_break.begin", any_scope={"channel:read:ads"}),
    _t("channel.shoutout.create", required=_MOD, any_scope=_SHOUTOUTS),
    _t("channel.shoutout.receive", required=_MOD, any_scope=_SHOUTOUTS),
    _t("channel.shield_mode.begin", required=_MOD, any_scope=_SHIELD),
    _t("channel.shield_mode.end", required=_MOD, any_scope=_SHIELD),
    _t("channel.charity_campaign.donate", any_scope={"channel:read:charity"}, event_id_field="id"),
    _t(
        "conduit.shard.disabled",
        required=("client_id",),
        optional=("conduit_id",),
        transports={"webhook", "conduit"},
    ),
    # -- added with the whole reference (issue 13) --
    _t("automod.message.hold", required=_MOD, any_scope=_AUTOMOD),
    _t("automod.message.hold", "2", required=_MOD, any_scope=_AUTOMOD),
    _t("automod.message.update", required=_MOD, any_scope=_AUTOMOD),
    _t("automod.message.update", "2", required=_MOD, any_scope=_AUTOMOD),
    _t(
        "automod.settings.update",
        required=_MOD,
        any_scope={"moderator:read:automod_settings", "moderator:manage:automod_settings"},
    ),
    _t("automod.terms.update", required=_MOD, any_scope=_AUTOMOD),
    _t("channel.bits.use", any_scope={"bits:read"}),
    _t(
        "channel.chat.clear_user_messages",
        required=_CHAT,
        any_scope=_CHAT_SCOPES,
        app_token_scopes=_CHAT_APP,
    ),
    _t(
        "channel.chat_settings.update",
        required=_CHAT,
        any_scope=_CHAT_SCOPES,
        app_token_scopes=_CHAT_APP,
    ),
    _t(
        "channel.chat.user_message_hold",
        required=_CHAT,
        any_scope=_CHAT_SCOPES,
        app_token_scopes={"user:bot"},
    ),
    _t(
        "channel.chat.user_message_update",
        required=_CHAT,
        any_scope=_CHAT_SCOPES,
        app_token_scopes={"user:bot"},
    ),
    _t("channel.shared_chat.begin"),
    _t("channel.shared_chat.update"),
    _t("channel.shared_chat.end"),
    _t("channel.moderate", required=_MOD, any_scope=_MODERATE_ANY, scope_groups=_MODERATE_V1),
    _t("channel.moderate", "2", required=_MOD, any_scope=_MODERATE_ANY, scope_groups=_MODERATE_V2),
    _t("channel.unban_request.create", required=_MOD, any_scope=_UNBAN_REQUESTS),
    _t("channel.unban_request.resolve", required=_MOD, any_scope=_UNBAN_REQUESTS),
    _t(
        "channel.suspicious_user.message",
        required=_MOD,
        any_scope={"moderator:read:suspicious_users"},
    ),
    _t(
        "channel.suspicious_user.update",
        required=_MOD,
        any_scope={"moderator:read:suspicious_users"},
    ),
    _t("channel.warning.acknowledge", required=_MOD, any_scope=_WARNINGS),
    _t("channel.warning.send", required=_MOD, any_scope=_WARNINGS),
    _t(
        "channel.channel_points_automatic_reward_redemption.add",
        any_scope=_REDEMPTIONS,
        event_id_field="id",
    ),
    _t(
        "channel.channel_points_automatic_reward_redemption.add",
        "2",
        any_scope=_REDEMPTIONS,
        event_id_field="id",
    ),
    _t("channel.charity_campaign.start", any_scope={"channel:read:charity"}),
    _t("channel.charity_campaign.progress", any_scope={"channel:read:charity"}),
    _t("channel.charity_campaign.stop", any_scope={"channel:read:charity"}),
    _t(
        "channel.hype_train.begin",
        any_scope={"channel:read:hype_train"},
        event_id_field="id",
        deprecated=True,
    ),
    _t("channel.hype_train.progress", any_scope={"channel:read:hype_train"}, deprecated=True),
    _t(
        "channel.hype_train.end",
        any_scope={"channel:read:hype_train"},
        event_id_field="id",
        deprecated=True,
    ),
    _t(
        "user.whisper.message",
        required=("user_id",),
        any_scope={"user:read:whispers", "user:manage:whispers"},
    ),
    _t("user.authorization.grant", required=("client_id",), transports=_WEBHOOK),
    _t("user.authorization.revoke", required=("client_id",), transports=_WEBHOOK),
    _t(
        "drop.entitlement.grant",
        required=("organization_id",),
        optional=("category_id", "campaign_id"),
        transports=_WEBHOOK,
        batched=True,
    ),
    _t(
        "extension.bits_transaction.create",
        required=("extension_client_id",),
        transports=_WEBHOOK,
        event_id_field="id",
    ),
    _t("channel.guest_star_session.begin", "beta", required=_MOD, any_scope=_GUEST_STAR, beta=True),
    _t("channel.guest_star_session.end", "beta", required=_MOD, any_scope=_GUEST_STAR, beta=True),
    _t("channel.guest_star_guest.update", "beta", required=_MOD, any_scope=_GUEST_STAR, beta=True),
    _t(
        "channel.guest_star_settings.update",
        "beta",
        required=_MOD,
        any_scope=_GUEST_STAR,
        beta=True,
    ),
)

# Versions Twitch has removed: creating them answers 410 Gone.
REMOVED_VERSIONS: frozenset[tuple[str, str]] = frozenset({("channel.follow", "1")})

_BY_KEY: dict[tuple[str, str], Topic] = {topic.key: topic for topic in TOPICS}


def is_removed(type_: str, version: str) -> bool:
    return (type_, version) in REMOVED_VERSIONS


def lookup(type_: str, version: str | None = None) -> Topic:
    """The topic of a type (and version; the newest when omitted), or UnknownTopic."""
    if version is not None:
        topic = _BY_KEY.get((type_, version))
        if topic is None:
            known = sorted(v for (t, v) in _BY_KEY if t == type_)
            hint = f"; known versions: {', '.join(known)}" if known else ""
            if is_removed(type_, version):
                hint = f"; version {version} was removed by Twitch{hint}"
            raise UnknownTopic(f"unknown subscription type {type_!r} version {version!r}{hint}")
        return topic
    versions = [topic for (t, _), topic in _BY_KEY.items() if t == type_]
    if not versions:
        near = nearest_types(type_)
        hint = f"; did you mean {' or '.join(near)}?" if near else " (see `kiss.eventsub.catalog`)"
        raise UnknownTopic(f"unknown subscription type {type_!r}{hint}")
    # A numbered version is newer than a beta of the same type.
    return max(
        versions,
        key=lambda t: (t.version.isdigit(), int(t.version) if t.version.isdigit() else 0),
    )


@lru_cache(maxsize=1024)
def _fields_of(type_: str, version: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    try:
        topic = lookup(type_, version)
    except UnknownTopic:  # a type Twitch sends that the hub does not know: the generic order
        return CHANNEL_FIELD_ORDER, OWNER_FIELD_ORDER
    return topic.channel_fields, topic.owner_fields


def channel_fields(type_: str, version: str) -> tuple[str, ...]:
    """``Topic.channel_fields`` of any type, known or not (cached per type)."""
    return _fields_of(type_, version)[0]


def channel_of(type_: str, version: str, condition: Mapping[str, Any]) -> str | None:
    """``Topic.channel_of`` for a subscription of any type, known or not."""
    return _first(condition, _fields_of(type_, version)[0])


def owner_of(type_: str, version: str, condition: Mapping[str, Any]) -> str | None:
    """``Topic.owner_of`` for a subscription of any type, known or not."""
    return _first(condition, _fields_of(type_, version)[1])


def topic_types() -> list[str]:
    return sorted({topic.type for topic in TOPICS})


def nearest_types(type_: str, count: int = 3) -> list[str]:
    """The catalog's types closest to a misspelt one (``stream.onlin`` -> ``stream.online``)."""
    return difflib.get_close_matches(type_, topic_types(), n=count, cutoff=0.6)
