"""The event object of every catalog topic, as Twitch's EventSub reference describes it.

One description, two uses: the bot client decodes ``event`` into these classes
(``kiss.client.typed``), and the simulator builds its payloads from them
(``kiss.simulator.twitch.payloads``), so what a bot parses is what the simulator sends.

The annotation says what Twitch documents: ``X | None`` is a field Twitch sends as null
at times. Decoding is forward compatible: unknown fields are ignored, and a field Twitch
stops sending decodes as None (every field defaults to ``GONE``) rather than failing.
Enumerations are ``str`` with their documented values as ``examples`` (a new value from
Twitch must not fail the decode); the simulator sends the first example.

Needs only msgspec (the bot client's dependency too).
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Annotated, Any

import msgspec

# A field Twitch stops sending decodes as None; typed as Any so annotations stay Twitch's.
GONE: Any = None


def _examples(*values: str) -> msgspec.Meta:
    return msgspec.Meta(examples=list(values))


Tier = Annotated[str, _examples("1000", "2000", "3000")]
Color = Annotated[str, _examples("#9147FF", "#00FF7F")]


class Part(msgspec.Struct, kw_only=True, gc=False):
    """A nested object of an event (a fragment, a badge, an amount...)."""


class Event(Part):
    """Base of the event objects of the catalog's topics."""


# -- shared nested objects ------------------------------------------------------------------
class Badge(Part):
    set_id: str = GONE
    id: str = GONE
    info: str = GONE


class Cheermote(Part):
    prefix: str = GONE
    bits: int = GONE
    tier: int = GONE


class FragmentEmote(Part):
    id: str = GONE
    emote_set_id: str = GONE
    owner_id: str = GONE
    format: list[Annotated[str, _examples("static", "animated")]] = GONE


class Mention(Part):
    user_id: str = GONE
    user_name: str = GONE
    user_login: str = GONE


class Fragment(Part):
    type: Annotated[str, _examples("text", "cheermote", "emote", "mention")] = GONE
    text: str = GONE
    cheermote: Cheermote | None = GONE
    emote: FragmentEmote | None = GONE
    mention: Mention | None = GONE


class ChatMessageBody(Part):
    text: str = GONE
    fragments: list[Fragment] = GONE


class Amount(Part):
    value: int = GONE
    decimal_places: int = GONE
    currency: str = GONE


class Image(Part):
    url_1x: str = GONE
    url_2x: str = GONE
    url_4x: str = GONE


class SimpleEmote(Part):
    id: str = GONE
    emote_set_id: str = GONE


class Boundary(Part):
    start_pos: int = GONE
    end_pos: int = GONE


# -- stream, channel, user ----------------------------------------------------------------
class StreamOnline(Event):
    id: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    type: Annotated[str, _examples("live", "playlist", "watch_party", "premiere", "rerun")] = GONE
    started_at: datetime = GONE


class StreamOffline(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE


class ChannelUpdate(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    title: str = GONE
    language: str = GONE
    category_id: str = GONE
    category_name: str = GONE
    content_classification_labels: list[str] = GONE


class ChannelUpdateV1(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    title: str = GONE
    language: str = GONE
    category_id: str = GONE
    category_name: str = GONE
    is_mature: bool = GONE


class UserUpdate(Event):
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    email: str | None = GONE
    email_verified: bool = GONE
    description: str = GONE


class ChannelFollow(Event):
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    followed_at: datetime = GONE


# -- subscriptions, bits, raids --------------------------------------------------------------
class ChannelSubscribe(Event):
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    tier: Tier = GONE
    is_gift: bool = GONE


class ChannelSubscriptionEnd(ChannelSubscribe):
    pass


class ChannelSubscriptionGift(Event):
    user_id: str | None = GONE  # null when anonymous
    user_login: str | None = GONE
    user_name: str | None = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    total: int = GONE
    tier: Tier = GONE
    cumulative_total: int | None = GONE
    is_anonymous: bool = GONE


class SubMessageEmote(Part):
    begin: int = GONE
    end: int = GONE
    id: str = GONE


class SubMessageBody(Part):
    text: str = GONE
    emotes: list[SubMessageEmote] | None = GONE


class ChannelSubscriptionMessage(Event):
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    tier: Tier = GONE
    message: SubMessageBody = GONE
    cumulative_months: int = GONE
    streak_months: int | None = GONE
    duration_months: int = GONE


class ChannelCheer(Event):
    is_anonymous: bool = GONE
    user_id: str | None = GONE
    user_login: str | None = GONE
    user_name: str | None = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    message: str = GONE
    bits: int = GONE


class BitsFragment(Part):
    text: str = GONE
    type: Annotated[str, _examples("text", "cheermote", "emote")] = GONE
    emote: FragmentEmote | None = GONE
    cheermote: Cheermote | None = GONE


class BitsMessage(Part):
    text: str = GONE
    fragments: list[BitsFragment] = GONE


class PowerUpEmote(Part):
    id: str = GONE
    name: str = GONE


class PowerUp(Part):
    type: Annotated[str, _examples("message_effect", "celebration", "gigantify_an_emote")] = GONE
    emote: PowerUpEmote | None = GONE
    message_effect_id: str | None = GONE


class ChannelBitsUse(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    bits: int = GONE
    type: Annotated[str, _examples("cheer", "power_up", "combo")] = GONE
    message: BitsMessage | None = GONE
    power_up: PowerUp | None = GONE


class ChannelRaid(Event):
    from_broadcaster_user_id: str = GONE
    from_broadcaster_user_login: str = GONE
    from_broadcaster_user_name: str = GONE
    to_broadcaster_user_id: str = GONE
    to_broadcaster_user_login: str = GONE
    to_broadcaster_user_name: str = GONE
    viewers: int = GONE


# -- moderation -------------------------------------------------------------------------------
class ChannelBan(Event):
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    moderator_user_id: str = GONE
    moderator_user_login: str = GONE
    moderator_user_name: str = GONE
    reason: str = GONE
    banned_at: datetime = GONE
    ends_at: datetime | None = GONE
    is_permanent: bool = GONE


class ChannelUnban(Event):
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    moderator_user_id: str = GONE
    moderator_user_login: str = GONE
    moderator_user_name: str = GONE


class ChannelModeratorAdd(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE


class ChannelModeratorRemove(ChannelModeratorAdd):
    pass


class ChannelVipAdd(ChannelModeratorAdd):
    pass


class ChannelVipRemove(ChannelModeratorAdd):
    pass


class ChannelUnbanRequestCreate(Event):
    id: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    text: str = GONE
    created_at: datetime = GONE


class ChannelUnbanRequestResolve(Event):
    id: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    moderator_user_id: str | None = GONE  # null when the request was canceled by the user
    moderator_user_login: str | None = GONE
    moderator_user_name: str | None = GONE
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    resolution_text: str | None = GONE
    status: Annotated[str, _examples("approved", "canceled", "denied")] = GONE


LowTrust = Annotated[str, _examples("none", "active_monitoring", "restricted")]


class SuspiciousFragment(Part):
    type: Annotated[str, _examples("text", "cheermote", "emote")] = GONE
    text: str = GONE
    cheermote: Cheermote | None = GONE
    emote: SimpleEmote | None = GONE


class SuspiciousMessage(Part):
    message_id: str = GONE
    text: str = GONE
    fragments: list[SuspiciousFragment] = GONE


class ChannelSuspiciousUserMessage(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    low_trust_status: LowTrust = GONE
    shared_ban_channel_ids: list[str] = GONE
    types: list[
        Annotated[str, _examples("manually_added", "ban_evader_detector", "shared_channel_ban")]
    ] = GONE
    ban_evasion_evaluation: Annotated[str, _examples("unknown", "possible", "likely")] = GONE
    message: SuspiciousMessage = GONE


class ChannelSuspiciousUserUpdate(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    moderator_user_id: str = GONE
    moderator_user_login: str = GONE
    moderator_user_name: str = GONE
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    low_trust_status: LowTrust = GONE


class ChannelWarningAcknowledge(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE


class ChannelWarningSend(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    moderator_user_id: str = GONE
    moderator_user_login: str = GONE
    moderator_user_name: str = GONE
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    reason: str | None = GONE
    chat_rules_cited: list[str] | None = GONE


class ModeratedUser(Part):
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE


class ModerateFollowers(Part):
    follow_duration_minutes: int = GONE


class ModerateSlow(Part):
    wait_time_seconds: int = GONE


class ModerateBan(ModeratedUser):
    reason: str | None = GONE


class ModerateTimeout(ModeratedUser):
    reason: str | None = GONE
    expires_at: datetime = GONE


class ModerateRaid(ModeratedUser):
    viewer_count: int = GONE


class ModerateDelete(ModeratedUser):
    message_id: str = GONE
    message_body: str = GONE


class ModerateAutomodTerms(Part):
    action: Annotated[str, _examples("add", "remove")] = GONE
    list: Annotated[str, _examples("blocked", "permitted")] = GONE
    terms: builtins.list[str] = GONE  # "list" above is Twitch's field name
    from_automod: bool = GONE


class ModerateUnbanRequest(ModeratedUser):
    is_approved: bool = GONE
    moderator_message: str = GONE


class ModerateWarn(ModeratedUser):
    reason: str | None = GONE
    chat_rules_cited: list[str] | None = GONE


ModerateAction = Annotated[
    str,
    _examples(
        "ban",
        "timeout",
        "unban",
        "untimeout",
        "clear",
        "emoteonly",
        "emoteonlyoff",
        "followers",
        "followersoff",
        "uniquechat",
        "uniquechatoff",
        "slow",
        "slowoff",
        "subscribers",
        "subscribersoff",
        "unraid",
        "delete",
        "unvip",
        "vip",
        "raid",
        "add_blocked_term",
        "add_permitted_term",
        "remove_blocked_term",
        "remove_permitted_term",
        "mod",
        "unmod",
        "approve_unban_request",
        "deny_unban_request",
        "warn",
        "shared_chat_ban",
        "shared_chat_timeout",
        "shared_chat_untimeout",
        "shared_chat_unban",
        "shared_chat_delete",
    ),
]


class ChannelModerate(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    source_broadcaster_user_id: str | None = GONE  # set when the action came from shared chat
    source_broadcaster_user_login: str | None = GONE
    source_broadcaster_user_name: str | None = GONE
    moderator_user_id: str = GONE
    moderator_user_login: str = GONE
    moderator_user_name: str = GONE
    action: ModerateAction = GONE
    followers: ModerateFollowers | None = GONE
    slow: ModerateSlow | None = GONE
    vip: ModeratedUser | None = GONE
    unvip: ModeratedUser | None = GONE
    mod: ModeratedUser | None = GONE
    unmod: ModeratedUser | None = GONE
    ban: ModerateBan | None = GONE
    unban: ModeratedUser | None = GONE
    timeout: ModerateTimeout | None = GONE
    untimeout: ModeratedUser | None = GONE
    raid: ModerateRaid | None = GONE
    unraid: ModeratedUser | None = GONE
    delete: ModerateDelete | None = GONE
    automod_terms: ModerateAutomodTerms | None = GONE
    unban_request: ModerateUnbanRequest | None = GONE
    shared_chat_ban: ModerateBan | None = GONE
    shared_chat_unban: ModeratedUser | None = GONE
    shared_chat_timeout: ModerateTimeout | None = GONE
    shared_chat_untimeout: ModeratedUser | None = GONE
    shared_chat_delete: ModerateDelete | None = GONE


class ChannelModerateV2(ChannelModerate):
    warn: ModerateWarn | None = GONE


# -- AutoMod ---------------------------------------------------------------------------------
class AutomodFragment(Part):
    type: Annotated[str, _examples("text", "emote", "cheermote")] = GONE
    text: str = GONE
    emote: SimpleEmote | None = GONE
    cheermote: Cheermote | None = GONE


class AutomodMessage(Part):
    text: str = GONE
    fragments: list[AutomodFragment] = GONE


class AutomodReason(Part):
    category: str = GONE
    level: int = GONE
    boundaries: list[Boundary] = GONE


class BlockedTermFound(Part):
    term_id: str = GONE
    boundary: Boundary = GONE
    owner_broadcaster_user_id: str = GONE
    owner_broadcaster_user_login: str = GONE
    owner_broadcaster_user_name: str = GONE


class BlockedTerms(Part):
    terms_found: list[BlockedTermFound] = GONE


HoldReason = Annotated[str, _examples("automod", "blocked_term")]
AutomodStatus = Annotated[str, _examples("Approved", "Denied", "Expired")]


class AutomodMessageHold(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    message_id: str = GONE
    message: AutomodMessage = GONE
    category: str = GONE
    level: int = GONE
    held_at: datetime = GONE


class AutomodMessageHoldV2(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    message_id: str = GONE
    message: AutomodMessage = GONE
    held_at: datetime = GONE
    reason: HoldReason = GONE
    automod: AutomodReason | None = GONE
    blocked_term: BlockedTerms | None = GONE


class AutomodMessageUpdate(AutomodMessageHold):
    moderator_user_id: str = GONE
    moderator_user_login: str = GONE
    moderator_user_name: str = GONE
    status: AutomodStatus = GONE


class AutomodMessageUpdateV2(AutomodMessageHoldV2):
    moderator_user_id: str = GONE
    moderator_user_login: str = GONE
    moderator_user_name: str = GONE
    status: AutomodStatus = GONE


class AutomodSettingsUpdate(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    moderator_user_id: str = GONE
    moderator_user_login: str = GONE
    moderator_user_name: str = GONE
    overall_level: int | None = GONE
    disability: int = GONE
    aggression: int = GONE
    sexuality_sex_or_gender: int = GONE
    misogyny: int = GONE
    bullying: int = GONE
    swearing: int = GONE
    race_ethnicity_or_religion: int = GONE
    sex_based_terms: int = GONE


class AutomodTermsUpdate(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    moderator_user_id: str = GONE
    moderator_user_login: str = GONE
    moderator_user_name: str = GONE
    action: Annotated[
        str, _examples("add_permitted", "remove_permitted", "add_blocked", "remove_blocked")
    ] = GONE
    from_automod: bool = GONE
    terms: list[str] = GONE


# -- channel points ---------------------------------------------------------------------------
class MaxPerStream(Part):
    is_enabled: bool = GONE
    value: int = GONE


class GlobalCooldown(Part):
    is_enabled: bool = GONE
    seconds: int = GONE


class ChannelPointsCustomRewardAdd(Event):
    id: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    is_enabled: bool = GONE
    is_paused: bool = GONE
    is_in_stock: bool = GONE
    title: str = GONE
    cost: int = GONE
    prompt: str = GONE
    is_user_input_required: bool = GONE
    should_redemptions_skip_request_queue: bool = GONE
    max_per_stream: MaxPerStream = GONE
    max_per_user_per_stream: MaxPerStream = GONE
    background_color: Color = GONE
    image: Image | None = GONE
    default_image: Image = GONE
    global_cooldown: GlobalCooldown = GONE
    cooldown_expires_at: datetime | None = GONE
    redemptions_redeemed_current_stream: int | None = GONE


class ChannelPointsCustomRewardUpdate(ChannelPointsCustomRewardAdd):
    pass


class ChannelPointsCustomRewardRemove(ChannelPointsCustomRewardAdd):
    pass


class RedeemedReward(Part):
    id: str = GONE
    title: str = GONE
    cost: int = GONE
    prompt: str = GONE


class ChannelPointsCustomRewardRedemptionAdd(Event):
    id: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    user_input: str = GONE
    status: Annotated[str, _examples("unfulfilled", "fulfilled", "canceled", "unknown")] = GONE
    reward: RedeemedReward = GONE
    redeemed_at: datetime = GONE


class ChannelPointsCustomRewardRedemptionUpdate(ChannelPointsCustomRewardRedemptionAdd):
    pass


AutomaticRewardType = Annotated[
    str,
    _examples(
        "single_message_bypass_sub_mode",
        "send_highlighted_message",
        "random_sub_emote_unlock",
        "chosen_sub_emote_unlock",
        "chosen_modified_sub_emote_unlock",
        "message_effect",
        "gigantify_an_emote",
        "celebration",
    ),
]


class UnlockedEmote(Part):
    id: str = GONE
    name: str = GONE


class AutomaticReward(Part):
    type: AutomaticRewardType = GONE
    cost: int = GONE
    unlocked_emote: UnlockedEmote | None = GONE


class AutomaticRewardMessage(Part):
    text: str = GONE
    emotes: list[SubMessageEmote] = GONE


class ChannelPointsAutomaticRewardRedemptionAdd(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    id: str = GONE
    reward: AutomaticReward = GONE
    message: AutomaticRewardMessage | None = GONE
    user_input: str | None = GONE
    redeemed_at: datetime = GONE


class AutomaticRewardV2(Part):
    type: AutomaticRewardType = GONE
    channel_points: int = GONE
    emote: UnlockedEmote | None = GONE


class AutomaticRewardFragmentEmote(Part):
    id: str = GONE


class AutomaticRewardFragment(Part):
    type: Annotated[str, _examples("text", "emote")] = GONE
    text: str = GONE
    emote: AutomaticRewardFragmentEmote | None = GONE


class AutomaticRewardMessageV2(Part):
    text: str = GONE
    fragments: list[AutomaticRewardFragment] = GONE


class ChannelPointsAutomaticRewardRedemptionAddV2(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    id: str = GONE
    reward: AutomaticRewardV2 = GONE
    message: AutomaticRewardMessageV2 | None = GONE
    redeemed_at: datetime = GONE


# -- polls, predictions ----------------------------------------------------------------------
class PollChoice(Part):
    id: str = GONE
    title: str = GONE
    bits_votes: int = GONE  # not used by Twitch: 0
    channel_points_votes: int = GONE
    votes: int = GONE


class Voting(Part):
    is_enabled: bool = GONE
    amount_per_vote: int = GONE


class ChannelPollBegin(Event):
    id: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    title: str = GONE
    choices: list[PollChoice] = GONE
    bits_voting: Voting = GONE
    channel_points_voting: Voting = GONE
    started_at: datetime = GONE
    ends_at: datetime = GONE


class ChannelPollProgress(ChannelPollBegin):
    pass


class ChannelPollEnd(Event):
    id: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    title: str = GONE
    choices: list[PollChoice] = GONE
    bits_voting: Voting = GONE
    channel_points_voting: Voting = GONE
    status: Annotated[str, _examples("completed", "archived", "terminated")] = GONE
    started_at: datetime = GONE
    ended_at: datetime = GONE


class Predictor(Part):
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    channel_points_won: int | None = GONE
    channel_points_used: int = GONE


class PredictionOutcome(Part):
    id: str = GONE
    title: str = GONE
    color: Annotated[str, _examples("blue", "pink")] = GONE
    users: int | None = GONE  # absent from begin
    channel_points: int | None = GONE
    top_predictors: list[Predictor] | None = GONE


class ChannelPredictionBegin(Event):
    id: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    title: str = GONE
    outcomes: list[PredictionOutcome] = GONE
    started_at: datetime = GONE
    locks_at: datetime = GONE


class ChannelPredictionProgress(ChannelPredictionBegin):
    pass


class ChannelPredictionLock(Event):
    id: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    title: str = GONE
    outcomes: list[PredictionOutcome] = GONE
    started_at: datetime = GONE
    locked_at: datetime = GONE


class ChannelPredictionEnd(Event):
    id: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    title: str = GONE
    winning_outcome_id: str | None = GONE
    outcomes: list[PredictionOutcome] = GONE
    status: Annotated[str, _examples("resolved", "canceled")] = GONE
    started_at: datetime = GONE
    ended_at: datetime = GONE


# -- hype trains, goals, charity ---------------------------------------------------------------
class Contribution(Part):
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    type: Annotated[str, _examples("bits", "subscription", "other")] = GONE
    total: int = GONE


class SharedTrainParticipant(Part):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE


HypeTrainType = Annotated[str, _examples("regular", "treasure", "golden_kappa")]


class ChannelHypeTrainBegin(Event):
    id: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    total: int = GONE
    progress: int = GONE
    goal: int = GONE
    top_contributions: list[Contribution] = GONE
    level: int = GONE
    all_time_high_level: int = GONE
    all_time_high_total: int = GONE
    shared_train_participants: list[SharedTrainParticipant] | None = GONE
    started_at: datetime = GONE
    expires_at: datetime = GONE
    type: HypeTrainType = GONE
    is_shared_train: bool = GONE


class ChannelHypeTrainProgress(Event):
    id: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    total: int = GONE
    progress: int = GONE
    goal: int = GONE
    top_contributions: list[Contribution] = GONE
    level: int = GONE
    shared_train_participants: list[SharedTrainParticipant] | None = GONE
    started_at: datetime = GONE
    expires_at: datetime = GONE
    type: HypeTrainType = GONE
    is_shared_train: bool = GONE


class ChannelHypeTrainEnd(Event):
    id: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    total: int = GONE
    top_contributions: list[Contribution] = GONE
    level: int = GONE
    shared_train_participants: list[SharedTrainParticipant] | None = GONE
    started_at: datetime = GONE
    ended_at: datetime = GONE
    cooldown_ends_at: datetime = GONE
    type: HypeTrainType = GONE
    is_shared_train: bool = GONE


class ChannelHypeTrainBeginV1(Event):
    id: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    total: int = GONE
    progress: int = GONE
    goal: int = GONE
    top_contributions: list[Contribution] = GONE
    last_contribution: Contribution = GONE
    level: int = GONE
    started_at: datetime = GONE
    expires_at: datetime = GONE
    is_golden_kappa_train: bool = GONE


class ChannelHypeTrainProgressV1(ChannelHypeTrainBeginV1):
    pass


class ChannelHypeTrainEndV1(Event):
    id: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    level: int = GONE
    total: int = GONE
    top_contributions: list[Contribution] = GONE
    started_at: datetime = GONE
    ended_at: datetime = GONE
    cooldown_ends_at: datetime = GONE
    is_golden_kappa_train: bool = GONE


GoalType = Annotated[
    str,
    _examples(
        "follow",
        "subscription",
        "subscription_count",
        "new_subscription",
        "new_subscription_count",
        "new_bit",
        "new_cheerer",
    ),
]


class ChannelGoalBegin(Event):
    id: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    type: GoalType = GONE
    description: str = GONE
    current_amount: int = GONE
    target_amount: int = GONE
    started_at: datetime = GONE


class ChannelGoalProgress(ChannelGoalBegin):
    pass


class ChannelGoalEnd(ChannelGoalBegin):
    is_achieved: bool = GONE
    ended_at: datetime = GONE


class ChannelCharityCampaignDonate(Event):
    id: str = GONE
    campaign_id: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    charity_name: str = GONE
    charity_description: str = GONE
    charity_logo: str = GONE
    charity_website: str = GONE
    amount: Amount = GONE


class ChannelCharityCampaignProgress(Event):
    # Twitch names the broadcaster broadcaster_id (not broadcaster_user_id) on these three.
    id: str = GONE
    broadcaster_id: str = GONE
    broadcaster_login: str = GONE
    broadcaster_name: str = GONE
    charity_name: str = GONE
    charity_description: str = GONE
    charity_logo: str = GONE
    charity_website: str = GONE
    current_amount: Amount = GONE
    target_amount: Amount = GONE


class ChannelCharityCampaignStart(ChannelCharityCampaignProgress):
    started_at: datetime = GONE


class ChannelCharityCampaignStop(ChannelCharityCampaignProgress):
    stopped_at: datetime = GONE


# -- chat -------------------------------------------------------------------------------------
class ChatCheer(Part):
    bits: int = GONE


class ChatReply(Part):
    parent_message_id: str = GONE
    parent_message_body: str = GONE
    parent_user_id: str = GONE
    parent_user_name: str = GONE
    parent_user_login: str = GONE
    thread_message_id: str = GONE
    thread_user_id: str = GONE
    thread_user_name: str = GONE
    thread_user_login: str = GONE


class ChannelChatMessage(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    chatter_user_id: str = GONE
    chatter_user_login: str = GONE
    chatter_user_name: str = GONE
    message_id: str = GONE
    message: ChatMessageBody = GONE
    message_type: Annotated[
        str,
        _examples(
            "text",
            "channel_points_highlighted",
            "channel_points_sub_only",
            "user_intro",
            "power_ups_message_effect",
            "power_ups_gigantified_emote",
        ),
    ] = GONE
    badges: list[Badge] = GONE
    cheer: ChatCheer | None = GONE
    color: str = GONE  # "" when the chatter never chose one
    reply: ChatReply | None = GONE
    channel_points_custom_reward_id: str | None = GONE
    channel_points_animation_id: str | None = GONE
    source_broadcaster_user_id: str | None = GONE  # shared chat: the channel it was sent in
    source_broadcaster_user_login: str | None = GONE
    source_broadcaster_user_name: str | None = GONE
    source_message_id: str | None = GONE
    source_badges: list[Badge] | None = GONE
    is_source_only: bool | None = GONE


class NoticeSub(Part):
    sub_tier: Tier = GONE
    is_prime: bool = GONE
    duration_months: int = GONE


class NoticeResub(Part):
    cumulative_months: int = GONE
    duration_months: int = GONE
    streak_months: int | None = GONE
    sub_tier: Tier = GONE
    is_prime: bool | None = GONE
    is_gift: bool = GONE
    gifter_is_anonymous: bool | None = GONE
    gifter_user_id: str | None = GONE
    gifter_user_name: str | None = GONE
    gifter_user_login: str | None = GONE


class NoticeSubGift(Part):
    duration_months: int = GONE
    cumulative_total: int | None = GONE
    recipient_user_id: str = GONE
    recipient_user_name: str = GONE
    recipient_user_login: str = GONE
    sub_tier: Tier = GONE
    community_gift_id: str | None = GONE


class NoticeCommunitySubGift(Part):
    id: str = GONE
    total: int = GONE
    sub_tier: Tier = GONE
    cumulative_total: int | None = GONE


class NoticeGifter(Part):
    gifter_is_anonymous: bool = GONE
    gifter_user_id: str | None = GONE
    gifter_user_name: str | None = GONE
    gifter_user_login: str | None = GONE


class NoticePrimePaidUpgrade(Part):
    sub_tier: Tier = GONE


class NoticeRaid(Part):
    user_id: str = GONE
    user_name: str = GONE
    user_login: str = GONE
    viewer_count: int = GONE
    profile_image_url: str = GONE


class NoticeUnraid(Part):
    pass


class NoticeAnnouncement(Part):
    color: Annotated[str, _examples("PRIMARY", "BLUE", "GREEN", "ORANGE", "PURPLE")] = GONE


class NoticeBitsBadgeTier(Part):
    tier: int = GONE


class NoticeAmount(Part):
    value: int = GONE
    decimal_place: int = GONE  # singular here, unlike the charity events
    currency: str = GONE


class NoticeCharityDonation(Part):
    charity_name: str = GONE
    amount: NoticeAmount = GONE


NoticeType = Annotated[
    str,
    _examples(
        "sub",
        "resub",
        "sub_gift",
        "community_sub_gift",
        "gift_paid_upgrade",
        "prime_paid_upgrade",
        "raid",
        "unraid",
        "pay_it_forward",
        "announcement",
        "bits_badge_tier",
        "charity_donation",
        "shared_chat_sub",
        "shared_chat_resub",
        "shared_chat_sub_gift",
        "shared_chat_community_sub_gift",
        "shared_chat_gift_paid_upgrade",
        "shared_chat_prime_paid_upgrade",
        "shared_chat_raid",
        "shared_chat_pay_it_forward",
        "shared_chat_announcement",
    ),
]


class ChannelChatNotification(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    chatter_user_id: str = GONE
    chatter_user_login: str = GONE
    chatter_user_name: str = GONE
    chatter_is_anonymous: bool = GONE
    color: str = GONE
    badges: list[Badge] = GONE
    system_message: str = GONE
    message_id: str = GONE
    message: ChatMessageBody = GONE
    notice_type: NoticeType = GONE
    # The object named by notice_type is set; the others are null.
    sub: NoticeSub | None = GONE
    resub: NoticeResub | None = GONE
    sub_gift: NoticeSubGift | None = GONE
    community_sub_gift: NoticeCommunitySubGift | None = GONE
    gift_paid_upgrade: NoticeGifter | None = GONE
    prime_paid_upgrade: NoticePrimePaidUpgrade | None = GONE
    raid: NoticeRaid | None = GONE
    unraid: NoticeUnraid | None = GONE
    pay_it_forward: NoticeGifter | None = GONE
    announcement: NoticeAnnouncement | None = GONE
    bits_badge_tier: NoticeBitsBadgeTier | None = GONE
    charity_donation: NoticeCharityDonation | None = GONE
    shared_chat_sub: NoticeSub | None = GONE
    shared_chat_resub: NoticeResub | None = GONE
    shared_chat_sub_gift: NoticeSubGift | None = GONE
    shared_chat_community_sub_gift: NoticeCommunitySubGift | None = GONE
    shared_chat_gift_paid_upgrade: NoticeGifter | None = GONE
    shared_chat_prime_paid_upgrade: NoticePrimePaidUpgrade | None = GONE
    shared_chat_raid: NoticeRaid | None = GONE
    shared_chat_pay_it_forward: NoticeGifter | None = GONE
    shared_chat_announcement: NoticeAnnouncement | None = GONE
    source_broadcaster_user_id: str | None = GONE
    source_broadcaster_user_login: str | None = GONE
    source_broadcaster_user_name: str | None = GONE
    source_message_id: str | None = GONE
    source_badges: list[Badge] | None = GONE


class ChannelChatClear(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE


class ChannelChatClearUserMessages(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    target_user_id: str = GONE
    target_user_login: str = GONE
    target_user_name: str = GONE


class ChannelChatMessageDelete(ChannelChatClearUserMessages):
    message_id: str = GONE


class ChannelChatSettingsUpdate(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    emote_mode: bool = GONE
    follower_mode: bool = GONE
    follower_mode_duration_minutes: int | None = GONE
    slow_mode: bool = GONE
    slow_mode_wait_time_seconds: int | None = GONE
    subscriber_mode: bool = GONE
    unique_chat_mode: bool = GONE


class HeldFragment(Part):
    text: str = GONE
    emote: SimpleEmote | None = GONE
    cheermote: Cheermote | None = GONE


class HeldMessage(Part):
    text: str = GONE
    fragments: list[HeldFragment] = GONE


class ChannelChatUserMessageHold(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    message_id: str = GONE
    message: HeldMessage = GONE


class ChannelChatUserMessageUpdate(ChannelChatUserMessageHold):
    status: Annotated[str, _examples("approved", "denied", "invalid")] = GONE


class SharedChatParticipant(Part):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE


class ChannelSharedChatEnd(Event):
    session_id: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    host_broadcaster_user_id: str = GONE
    host_broadcaster_user_login: str = GONE
    host_broadcaster_user_name: str = GONE


class ChannelSharedChatBegin(ChannelSharedChatEnd):
    participants: list[SharedChatParticipant] = GONE


class ChannelSharedChatUpdate(ChannelSharedChatBegin):
    pass


class UserWhisperBody(Part):
    text: str = GONE


class UserWhisperMessage(Event):
    from_user_id: str = GONE
    from_user_login: str = GONE
    from_user_name: str = GONE
    to_user_id: str = GONE
    to_user_login: str = GONE
    to_user_name: str = GONE
    whisper_id: str = GONE
    whisper: UserWhisperBody = GONE


# -- ads, shoutouts, shield mode --------------------------------------------------------------
class ChannelAdBreakBegin(Event):
    duration_seconds: int = GONE
    started_at: datetime = GONE
    is_automatic: bool = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    requester_user_id: str = GONE
    requester_user_login: str = GONE
    requester_user_name: str = GONE


class ChannelShoutoutCreate(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    to_broadcaster_user_id: str = GONE
    to_broadcaster_user_login: str = GONE
    to_broadcaster_user_name: str = GONE
    moderator_user_id: str = GONE
    moderator_user_login: str = GONE
    moderator_user_name: str = GONE
    viewer_count: int = GONE
    started_at: datetime = GONE
    cooldown_ends_at: datetime = GONE
    target_cooldown_ends_at: datetime = GONE


class ChannelShoutoutReceive(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    from_broadcaster_user_id: str = GONE
    from_broadcaster_user_login: str = GONE
    from_broadcaster_user_name: str = GONE
    viewer_count: int = GONE
    started_at: datetime = GONE


class ChannelShieldModeBegin(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    moderator_user_id: str = GONE
    moderator_user_login: str = GONE
    moderator_user_name: str = GONE
    started_at: datetime = GONE


class ChannelShieldModeEnd(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    moderator_user_id: str = GONE
    moderator_user_login: str = GONE
    moderator_user_name: str = GONE
    ended_at: datetime = GONE


# -- guest star (beta) --------------------------------------------------------------------------
class ChannelGuestStarSessionBegin(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    moderator_user_id: str = GONE
    moderator_user_login: str = GONE
    moderator_user_name: str = GONE
    session_id: str = GONE
    started_at: datetime = GONE


class ChannelGuestStarSessionEnd(ChannelGuestStarSessionBegin):
    ended_at: datetime = GONE
    host_user_id: str = GONE
    host_user_login: str = GONE
    host_user_name: str = GONE


class ChannelGuestStarGuestUpdate(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    session_id: str = GONE
    moderator_user_id: str | None = GONE
    moderator_user_login: str | None = GONE
    moderator_user_name: str | None = GONE
    guest_user_id: str | None = GONE
    guest_user_login: str | None = GONE
    guest_user_name: str | None = GONE
    slot_id: str | None = GONE
    state: (
        Annotated[str, _examples("invited", "accepted", "ready", "backstage", "live", "removed")]
        | None
    ) = GONE
    host_user_id: str = GONE
    host_user_login: str = GONE
    host_user_name: str = GONE
    host_video_enabled: bool | None = GONE
    host_audio_enabled: bool | None = GONE
    host_volume: int | None = GONE


class ChannelGuestStarSettingsUpdate(Event):
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    moderator_user_id: str = GONE
    moderator_user_login: str = GONE
    moderator_user_name: str = GONE
    is_moderator_send_live_enabled: bool = GONE
    slot_count: int = GONE
    is_browser_source_audio_enabled: bool = GONE
    group_layout: Annotated[
        str, _examples("tiled", "screenshare", "horizontal_top", "horizontal_bottom")
    ] = GONE


# -- app-level topics (webhook, conduit) --------------------------------------------------------
class ShardTransport(Part):
    method: Annotated[str, _examples("websocket", "webhook")] = GONE
    callback: str | None = GONE
    session_id: str | None = GONE
    connected_at: datetime | None = GONE
    disconnected_at: datetime | None = GONE


class ConduitShardDisabled(Event):
    conduit_id: str = GONE
    shard_id: str = GONE
    status: Annotated[
        str, _examples("websocket_disconnected", "webhook_callback_verification_failed")
    ] = GONE
    transport: ShardTransport = GONE


class UserAuthorizationGrant(Event):
    client_id: str = GONE
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE


class UserAuthorizationRevoke(Event):
    client_id: str = GONE
    user_id: str = GONE
    user_login: str | None = GONE  # null if the user no longer exists
    user_name: str | None = GONE


class EntitlementData(Part):
    organization_id: str = GONE
    category_id: str = GONE
    category_name: str = GONE
    campaign_id: str = GONE
    user_id: str = GONE
    user_name: str = GONE
    user_login: str = GONE
    entitlement_id: str = GONE
    benefit_id: str = GONE
    created_at: datetime = GONE


class DropEntitlementGrant(Event):
    """One item of the batched ``events`` list."""

    id: str = GONE
    data: EntitlementData = GONE


class ExtensionProduct(Part):
    name: str = GONE
    sku: str = GONE
    bits: int = GONE
    in_development: bool = GONE


class ExtensionBitsTransactionCreate(Event):
    extension_client_id: str = GONE
    id: str = GONE
    broadcaster_user_id: str = GONE
    broadcaster_user_login: str = GONE
    broadcaster_user_name: str = GONE
    user_id: str = GONE
    user_login: str = GONE
    user_name: str = GONE
    product: ExtensionProduct = GONE


# Each catalog topic's event class (for a batched topic: the class of one list item).
EVENT_TYPES: dict[tuple[str, str], type[Event]] = {
    ("stream.online", "1"): StreamOnline,
    ("stream.offline", "1"): StreamOffline,
    ("channel.update", "2"): ChannelUpdate,
    ("channel.update", "1"): ChannelUpdateV1,
    ("user.update", "1"): UserUpdate,
    ("channel.follow", "2"): ChannelFollow,
    ("channel.subscribe", "1"): ChannelSubscribe,
    ("channel.subscription.end", "1"): ChannelSubscriptionEnd,
    ("channel.subscription.gift", "1"): ChannelSubscriptionGift,
    ("channel.subscription.message", "1"): ChannelSubscriptionMessage,
    ("channel.cheer", "1"): ChannelCheer,
    ("channel.raid", "1"): ChannelRaid,
    ("channel.ban", "1"): ChannelBan,
    ("channel.unban", "1"): ChannelUnban,
    ("channel.moderator.add", "1"): ChannelModeratorAdd,
    ("channel.moderator.remove", "1"): ChannelModeratorRemove,
    ("channel.vip.add", "1"): ChannelVipAdd,
    ("channel.vip.remove", "1"): ChannelVipRemove,
    ("channel.channel_points_custom_reward.add", "1"): ChannelPointsCustomRewardAdd,
    ("channel.channel_points_custom_reward.update", "1"): ChannelPointsCustomRewardUpdate,
    ("channel.channel_points_custom_reward.remove", "1"): ChannelPointsCustomRewardRemove,
    (
        "channel.channel_points_custom_reward_redemption.add",
        "1",
    ): ChannelPointsCustomRewardRedemptionAdd,
    (
        "channel.channel_points_custom_reward_redemption.update",
        "1",
    ): ChannelPointsCustomRewardRedemptionUpdate,
    ("channel.poll.begin", "1"): ChannelPollBegin,
    ("channel.poll.progress", "1"): ChannelPollProgress,
    ("channel.poll.end", "1"): ChannelPollEnd,
    ("channel.prediction.begin", "1"): ChannelPredictionBegin,
    ("channel.prediction.progress", "1"): ChannelPredictionProgress,
    ("channel.prediction.lock", "1"): ChannelPredictionLock,
    ("channel.prediction.end", "1"): ChannelPredictionEnd,
    ("channel.hype_train.begin", "2"): ChannelHypeTrainBegin,
    ("channel.hype_train.progress", "2"): ChannelHypeTrainProgress,
    ("channel.hype_train.end", "2"): ChannelHypeTrainEnd,
    ("channel.goal.begin", "1"): ChannelGoalBegin,
    ("channel.goal.progress", "1"): ChannelGoalProgress,
    ("channel.goal.end", "1"): ChannelGoalEnd,
    ("channel.chat.message", "1"): ChannelChatMessage,
    ("channel.chat.notification", "1"): ChannelChatNotification,
    ("channel.chat.clear", "1"): ChannelChatClear,
    ("channel.chat.message_delete", "1"): ChannelChatMessageDelete,
    ("channel.ad_break.begin", "1"): ChannelAdBreakBegin,
    ("channel.shoutout.create", "1"): ChannelShoutoutCreate,
    ("channel.shoutout.receive", "1"): ChannelShoutoutReceive,
    ("channel.shield_mode.begin", "1"): ChannelShieldModeBegin,
    ("channel.shield_mode.end", "1"): ChannelShieldModeEnd,
    ("channel.charity_campaign.donate", "1"): ChannelCharityCampaignDonate,
    ("conduit.shard.disabled", "1"): ConduitShardDisabled,
    ("automod.message.hold", "1"): AutomodMessageHold,
    ("automod.message.hold", "2"): AutomodMessageHoldV2,
    ("automod.message.update", "1"): AutomodMessageUpdate,
    ("automod.message.update", "2"): AutomodMessageUpdateV2,
    ("automod.settings.update", "1"): AutomodSettingsUpdate,
    ("automod.terms.update", "1"): AutomodTermsUpdate,
    ("channel.bits.use", "1"): ChannelBitsUse,
    ("channel.chat.clear_user_messages", "1"): ChannelChatClearUserMessages,
    ("channel.chat_settings.update", "1"): ChannelChatSettingsUpdate,
    ("channel.chat.user_message_hold", "1"): ChannelChatUserMessageHold,
    ("channel.chat.user_message_update", "1"): ChannelChatUserMessageUpdate,
    ("channel.shared_chat.begin", "1"): ChannelSharedChatBegin,
    ("channel.shared_chat.update", "1"): ChannelSharedChatUpdate,
    ("channel.shared_chat.end", "1"): ChannelSharedChatEnd,
    ("channel.moderate", "1"): ChannelModerate,
    ("channel.moderate", "2"): ChannelModerateV2,
    ("channel.unban_request.create", "1"): ChannelUnbanRequestCreate,
    ("channel.unban_request.resolve", "1"): ChannelUnbanRequestResolve,
    ("channel.suspicious_user.message", "1"): ChannelSuspiciousUserMessage,
    ("channel.suspicious_user.update", "1"): ChannelSuspiciousUserUpdate,
    ("channel.warning.acknowledge", "1"): ChannelWarningAcknowledge,
    ("channel.warning.send", "1"): ChannelWarningSend,
    (
        "channel.channel_points_automatic_reward_redemption.add",
        "1",
    ): ChannelPointsAutomaticRewardRedemptionAdd,
    (
        "channel.channel_points_automatic_reward_redemption.add",
        "2",
    ): ChannelPointsAutomaticRewardRedemptionAddV2,
    ("channel.charity_campaign.start", "1"): ChannelCharityCampaignStart,
    ("channel.charity_campaign.progress", "1"): ChannelCharityCampaignProgress,
    ("channel.charity_campaign.stop", "1"): ChannelCharityCampaignStop,
    ("channel.hype_train.begin", "1"): ChannelHypeTrainBeginV1,
    ("channel.hype_train.progress", "1"): ChannelHypeTrainProgressV1,
    ("channel.hype_train.end", "1"): ChannelHypeTrainEndV1,
    ("user.whisper.message", "1"): UserWhisperMessage,
    ("user.authorization.grant", "1"): UserAuthorizationGrant,
    ("user.authorization.revoke", "1"): UserAuthorizationRevoke,
    ("drop.entitlement.grant", "1"): DropEntitlementGrant,
    ("extension.bits_transaction.create", "1"): ExtensionBitsTransactionCreate,
    ("channel.guest_star_session.begin", "beta"): ChannelGuestStarSessionBegin,
    ("channel.guest_star_session.end", "beta"): ChannelGuestStarSessionEnd,
    ("channel.guest_star_guest.update", "beta"): ChannelGuestStarGuestUpdate,
    ("channel.guest_star_settings.update", "beta"): ChannelGuestStarSettingsUpdate,
}

TOPIC_OF: dict[type[Event], tuple[str, str]] = {cls: key for key, cls in EVENT_TYPES.items()}
