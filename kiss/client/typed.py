"""Typed events for handlers: ``@client.on(ChannelChatMessage)`` (no I/O).

A handler registered by event class gets a ``TypedEvent``: its attributes are the event's
fields (``event.chatter_user_name``, ``event.message.text``, a parsed ``followed_at``),
decoded from the notification's ``event`` the first time one is read, so a handler that
reads none does not pay for the decode. ``event.payload`` is the typed object itself (for
type checkers), ``event.raw`` the dict Twitch sent, and ``event.notification`` the
stream entry (``message_id``, ``stream_id``, ``delivery_count``...).

Decoding is forward compatible (``kiss.eventsub.events``): unknown fields are ignored and a
field Twitch stops sending is None. A batched topic (``drop.entitlement.grant``) gives a
``TypedBatch``, a sequence of its items. Revocations and gaps keep their own classes
(``client.on_revocation``, ``client.on_gap``).

The classes come from ``kiss.eventsub.events``, the description the simulator builds its
payloads from; msgspec decodes them (a small C extension, already a client requirement).
"""

from __future__ import annotations

import types
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Generic, TypeVar

import msgspec

from kiss.client.errors import MalformedEntry
from kiss.client.events import ChannelEvent
from kiss.errors import UnknownTopic
from kiss.eventsub import catalog
from kiss.eventsub.events import (  # the event classes, importable from kiss.client
    TOPIC_OF,
    AutomodMessageHold,
    AutomodMessageHoldV2,
    AutomodMessageUpdate,
    AutomodMessageUpdateV2,
    AutomodSettingsUpdate,
    AutomodTermsUpdate,
    ChannelAdBreakBegin,
    ChannelBan,
    ChannelBitsUse,
    ChannelCharityCampaignDonate,
    ChannelCharityCampaignProgress,
    ChannelCharityCampaignStart,
    ChannelCharityCampaignStop,
    ChannelChatClear,
    ChannelChatClearUserMessages,
    ChannelChatMessage,
    ChannelChatMessageDelete,
    ChannelChatNotification,
    ChannelChatSettingsUpdate,
    ChannelChatUserMessageHold,
    ChannelChatUserMessageUpdate,
    ChannelCheer,
    ChannelFollow,
    ChannelGoalBegin,
    ChannelGoalEnd,
    ChannelGoalProgress,
    ChannelGuestStarGuestUpdate,
    ChannelGuestStarSessionBegin,
    ChannelGuestStarSessionEnd,
    ChannelGuestStarSettingsUpdate,
    ChannelHypeTrainBegin,
    ChannelHypeTrainBeginV1,
    ChannelHypeTrainEnd,
    ChannelHypeTrainEndV1,
    ChannelHypeTrainProgress,
    ChannelHypeTrainProgressV1,
    ChannelModerate,
    ChannelModerateV2,
    ChannelModeratorAdd,
    ChannelModeratorRemove,
    ChannelPointsAutomaticRewardRedemptionAdd,
    ChannelPointsAutomaticRewardRedemptionAddV2,
    ChannelPointsCustomRewardAdd,
    ChannelPointsCustomRewardRedemptionAdd,
    ChannelPointsCustomRewardRedemptionUpdate,
    ChannelPointsCustomRewardRemove,
    ChannelPointsCustomRewardUpdate,
    ChannelPollBegin,
    ChannelPollEnd,
    ChannelPollProgress,
    ChannelPredictionBegin,
    ChannelPredictionEnd,
    ChannelPredictionLock,
    ChannelPredictionProgress,
    ChannelRaid,
    ChannelSharedChatBegin,
    ChannelSharedChatEnd,
    ChannelSharedChatUpdate,
    ChannelShieldModeBegin,
    ChannelShieldModeEnd,
    ChannelShoutoutCreate,
    ChannelShoutoutReceive,
    ChannelSubscribe,
    ChannelSubscriptionEnd,
    ChannelSubscriptionGift,
    ChannelSubscriptionMessage,
    ChannelSuspiciousUserMessage,
    ChannelSuspiciousUserUpdate,
    ChannelUnban,
    ChannelUnbanRequestCreate,
    ChannelUnbanRequestResolve,
    ChannelUpdate,
    ChannelUpdateV1,
    ChannelVipAdd,
    ChannelVipRemove,
    ChannelWarningAcknowledge,
    ChannelWarningSend,
    ConduitShardDisabled,
    DropEntitlementGrant,
    Event,
    ExtensionBitsTransactionCreate,
    StreamOffline,
    StreamOnline,
    UserAuthorizationGrant,
    UserAuthorizationRevoke,
    UserUpdate,
    UserWhisperMessage,
)

__all__ = [
    "AutomodMessageHold",
    "AutomodMessageHoldV2",
    "AutomodMessageUpdate",
    "AutomodMessageUpdateV2",
    "AutomodSettingsUpdate",
    "AutomodTermsUpdate",
    "ChannelAdBreakBegin",
    "ChannelBan",
    "ChannelBitsUse",
    "ChannelCharityCampaignDonate",
    "ChannelCharityCampaignProgress",
    "ChannelCharityCampaignStart",
    "ChannelCharityCampaignStop",
    "ChannelChatClear",
    "ChannelChatClearUserMessages",
    "ChannelChatMessage",
    "ChannelChatMessageDelete",
    "ChannelChatNotification",
    "ChannelChatSettingsUpdate",
    "ChannelChatUserMessageHold",
    "ChannelChatUserMessageUpdate",
    "ChannelCheer",
    "ChannelFollow",
    "ChannelGoalBegin",
    "ChannelGoalEnd",
    "ChannelGoalProgress",
    "ChannelGuestStarGuestUpdate",
    "ChannelGuestStarSessionBegin",
    "ChannelGuestStarSessionEnd",
    "ChannelGuestStarSettingsUpdate",
    "ChannelHypeTrainBegin",
    "ChannelHypeTrainBeginV1",
    "ChannelHypeTrainEnd",
    "ChannelHypeTrainEndV1",
    "ChannelHypeTrainProgress",
    "ChannelHypeTrainProgressV1",
    "ChannelModerate",
    "ChannelModerateV2",
    "ChannelModeratorAdd",
    "ChannelModeratorRemove",
    "ChannelPointsAutomaticRewardRedemptionAdd",
    "ChannelPointsAutomaticRewardRedemptionAddV2",
    "ChannelPointsCustomRewardAdd",
    "ChannelPointsCustomRewardRedemptionAdd",
    "ChannelPointsCustomRewardRedemptionUpdate",
    "ChannelPointsCustomRewardRemove",
    "ChannelPointsCustomRewardUpdate",
    "ChannelPollBegin",
    "ChannelPollEnd",
    "ChannelPollProgress",
    "ChannelPredictionBegin",
    "ChannelPredictionEnd",
    "ChannelPredictionLock",
    "ChannelPredictionProgress",
    "ChannelRaid",
    "ChannelSharedChatBegin",
    "ChannelSharedChatEnd",
    "ChannelSharedChatUpdate",
    "ChannelShieldModeBegin",
    "ChannelShieldModeEnd",
    "ChannelShoutoutCreate",
    "ChannelShoutoutReceive",
    "ChannelSubscribe",
    "ChannelSubscriptionEnd",
    "ChannelSubscriptionGift",
    "ChannelSubscriptionMessage",
    "ChannelSuspiciousUserMessage",
    "ChannelSuspiciousUserUpdate",
    "ChannelUnban",
    "ChannelUnbanRequestCreate",
    "ChannelUnbanRequestResolve",
    "ChannelUpdate",
    "ChannelUpdateV1",
    "ChannelVipAdd",
    "ChannelVipRemove",
    "ChannelWarningAcknowledge",
    "ChannelWarningSend",
    "ConduitShardDisabled",
    "DropEntitlementGrant",
    "ExtensionBitsTransactionCreate",
    "StreamOffline",
    "StreamOnline",
    "TypedBatch",
    "TypedEvent",
    "UserAuthorizationGrant",
    "UserAuthorizationRevoke",
    "UserUpdate",
    "UserWhisperMessage",
]

P = TypeVar("P", bound=Event)
_UNDECODED: Any = object()


def _decode(raw: Any, payload_type: Any, event: ChannelEvent) -> Any:
    try:
        if isinstance(raw, str | bytes):  # an event kept as JSON text
            return msgspec.json.decode(raw, type=payload_type)
        return msgspec.convert(raw, payload_type)
    except msgspec.ValidationError as error:
        raise MalformedEntry(
            f"entry {event.stream_id}: {event.type} v{event.version} event: {error}"
        ) from error


class TypedEvent(Generic[P]):
    """One notification with its event decoded, on first use, into its class ``P``."""

    __slots__ = ("_payload", "_payload_type", "notification")

    def __init__(self, notification: ChannelEvent, payload_type: type[P]) -> None:
        self.notification = notification
        self._payload_type = payload_type
        self._payload: P = _UNDECODED

    @property
    def raw(self) -> Any:
        """The event as Twitch sent it (a dict)."""
        return self.notification.event

    @property
    def payload(self) -> P:
        """The typed event (decoded now if no field was read before)."""
        if self._payload is _UNDECODED:
            self._payload = _decode(self.raw, self._payload_type, self.notification)
        return self._payload

    def __getattr__(self, name: str) -> Any:
        # Only reached for names that are not the wrapper's own: the event's fields.
        return getattr(self.payload, name)

    def __repr__(self) -> str:
        return f"TypedEvent({self._payload_type.__name__}, stream_id={self.notification.stream_id})"


class TypedBatch(Generic[P]):
    """A batched notification: a sequence of items of class ``P``, decoded on first use."""

    __slots__ = ("_items", "_payload_type", "notification")

    def __init__(self, notification: ChannelEvent, payload_type: type[P]) -> None:
        self.notification = notification
        self._payload_type = payload_type
        self._items: list[P] = _UNDECODED

    @property
    def raw(self) -> Any:
        return self.notification.event

    @property
    def items(self) -> list[P]:
        if self._items is _UNDECODED:
            raw = self.raw if isinstance(self.raw, list | str | bytes) else [self.raw]
            items_type = types.GenericAlias(list, (self._payload_type,))
            self._items = _decode(raw, items_type, self.notification)
        return self._items

    def __iter__(self) -> Iterator[P]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> P:
        return self.items[index]


def topic_of(payload_type: type[Event]) -> catalog.Topic:
    """The catalog topic of an event class, or UnknownTopic naming what was given."""
    key = TOPIC_OF.get(payload_type)
    if key is None:
        raise UnknownTopic(
            f"{getattr(payload_type, '__name__', payload_type)!r} is not an event class of "
            "kiss.client.typed (register a topic string instead)"
        )
    return catalog.lookup(*key)


def typed(event: ChannelEvent, payload_type: type[P]) -> TypedEvent[P] | TypedBatch[P]:
    """Wrap a notification of ``payload_type``'s topic (its event is not decoded yet)."""
    if topic_of(payload_type).batched:
        return TypedBatch(event, payload_type)
    return TypedEvent(event, payload_type)


TypedHandler = Callable[[Any], Awaitable[None] | None]


def adapter(payload_type: type[Event]) -> tuple[str, Callable[[TypedHandler], TypedHandler]]:
    """The topic string to register under, and what turns a typed handler into a plain one.

    The plain handler skips notifications of another version of the type (a class is one
    version: ``ChannelModerate`` is v1, ``ChannelModerateV2`` v2).
    """
    topic = topic_of(payload_type)
    wrap = TypedBatch if topic.batched else TypedEvent

    def adapt(handler: TypedHandler) -> TypedHandler:
        def plain(event: ChannelEvent) -> Awaitable[None] | None:
            if event.version != topic.version:
                return None
            return handler(wrap(event, payload_type))

        plain.__name__ = getattr(handler, "__name__", "typed_handler")
        plain.__wrapped__ = handler  # type: ignore[attr-defined]
        return plain

    return topic.type, adapt
