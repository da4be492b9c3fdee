"""Realistic event payloads for every catalog topic, built from ``kiss.eventsub.events``.

``event_for(topic, condition, now)`` sends every field Twitch documents for the topic:
the users the condition names are the event's users, ids are fresh on every call, and
a handful of presets make the common types read like real traffic (a chat message whose
text matches its fragments, a gift that names its gifter). With ``filled=True`` every
nullable field carries a value too, so tests reach every nested object.

Each event class is compiled once into a list of field generators (the load generator
calls this thousands of times a second).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import msgspec

from kiss.eventsub import catalog
from kiss.eventsub.events import EVENT_TYPES
from kiss.simulator.twitch.clock import timestamp
from kiss.simulator.twitch.model import JSON

Siblings = dict[str, Any]
Generator = Callable[["_Context", Siblings], Any]
Preset = Callable[[JSON, "_Context"], None]

# Timestamps in the future of the event (a poll's end, a cooldown) lie this far ahead.
_AHEAD = 300.0
_FUTURE_SUFFIXES = ("ends_at", "expires_at", "locks_at", "cooldown_expires_at")


class _Context:
    __slots__ = ("condition", "filled", "now")

    def __init__(self, condition: Mapping[str, str], now: float, filled: bool) -> None:
        self.condition = condition
        self.now = now
        self.filled = filled


def _someone() -> str:
    return str(random.randint(10_000_000, 99_999_999))


def _login(user_id: str) -> str:
    return f"user{user_id}"


def _user_prefix(name: str) -> str | None:
    """``moderator_user`` for ``moderator_user_id``; None for ids that are not users."""
    for suffix in ("_user_id", "broadcaster_id"):
        if name.endswith(suffix):
            return name[: -len("_id")]
    return "user" if name == "user_id" else None


def _string(name: str, top: bool) -> Generator:
    """A field of type string: what its name says it holds."""
    prefix = _user_prefix(name)
    if prefix is not None:
        # The condition's users are the event's (top level only: nested users are others).
        key = "broadcaster_user_id" if name == "broadcaster_id" else name

        def user_id(ctx: _Context, siblings: Siblings) -> str:
            return (ctx.condition.get(key) if top else None) or _someone()

        return user_id
    for suffix, shape in (("_login", _login), ("_name", lambda i: _login(i).capitalize())):
        if name.endswith(suffix) and name != "category_name" and name != "charity_name":
            id_name = name[: -len(suffix)] + "_id"

            def derived(
                ctx: _Context, s: Siblings, id_name: str = id_name, shape: Any = shape
            ) -> str:
                return str(shape(s[id_name])) if s.get(id_name) else str(shape(_someone()))

            return derived
    if name == "id" or name.endswith("_id"):
        if top:
            return lambda ctx, s: ctx.condition.get(name) or str(uuid.uuid4())
        return lambda ctx, s: str(uuid.uuid4())
    constant = _STRINGS.get(name)
    if constant is None:
        if "url" in name or name.endswith("logo"):
            constant = f"https://static-cdn.jtvnw.net/{name}.png"
        else:
            constant = f"Example {name.replace('_', ' ')}"
    return lambda ctx, s: constant


_STRINGS = {
    "color": "#9147FF",
    "background_color": "#9147FF",
    "language": "en",
    "currency": "USD",
    "email": "user@example.com",
    "charity_website": "https://www.example.com",
    "title": "Best Stream Ever",
    "category_name": "Just Chatting",
    "text": "Hello chat!",
    "info": "",
}


_INTS = {
    "bits": 1000,
    "viewers": 9001,
    "viewer_count": 860,
    "cost": 100,
    "channel_points": 100,
    "cumulative_months": 15,
    "cumulative_total": 284,
    "total": 137,
    "progress": 137,
    "goal": 500,
    "level": 2,
    "current_amount": 27062,
    "target_amount": 30000,
    "duration_seconds": 60,
    "value": 10000,
    "decimal_places": 2,
    "decimal_place": 2,
    "slot_count": 5,
}


def _compile(info: msgspec.inspect.Type, name: str, top: bool = False) -> Generator:
    """The generator of one field from its msgspec type description."""
    if isinstance(info, msgspec.inspect.Metadata):
        examples = (info.extra_json_schema or {}).get("examples")
        if examples and isinstance(info.type, msgspec.inspect.StrType):
            first = examples[0]
            return lambda ctx, s: first
        return _compile(info.type, name, top)
    if isinstance(info, msgspec.inspect.UnionType):
        real = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
        inner = _compile(real[0], name, top)
        return lambda ctx, s: inner(ctx, s) if ctx.filled else None
    if isinstance(info, msgspec.inspect.StructType):
        return _struct(info, top=False)  # the condition names the event's own users only
    if isinstance(info, msgspec.inspect.ListType):
        item = _compile(info.item_type, name.removesuffix("s"))
        return lambda ctx, s: [item(ctx, {})]
    if isinstance(info, msgspec.inspect.StrType):
        return _string(name, top)
    if isinstance(info, msgspec.inspect.DateTimeType):
        ahead = _AHEAD if name.endswith(_FUTURE_SUFFIXES) else 0.0
        return lambda ctx, s: timestamp(ctx.now + ahead)
    if isinstance(info, msgspec.inspect.BoolType):
        return lambda ctx, s: False
    if isinstance(info, msgspec.inspect.IntType):
        number = _INTS.get(name, 1)
        return lambda ctx, s: number
    if isinstance(info, msgspec.inspect.FloatType):
        return lambda ctx, s: 1.0
    raise TypeError(f"no generator for field {name} of type {info!r}")


def _struct(info: msgspec.inspect.StructType, top: bool) -> Generator:
    fields = [(field.name, _compile(field.type, field.name, top)) for field in info.fields]

    def build(ctx: _Context, siblings: Siblings) -> JSON:
        body: JSON = {}
        for name, generate in fields:
            body[name] = generate(ctx, body)
        return body

    return build


@cache
def _builder(key: tuple[str, str]) -> Generator:
    return _struct(msgspec.inspect.type_info(EVENT_TYPES[key]), top=True)  # type: ignore[arg-type]


# -- presets: what a default (not ``filled``) event of a common type looks like ------------------
def _chat_message(event: JSON, ctx: _Context) -> None:
    text = "Hi chat, this is a realistic message from the Kiss simulator! Kappa"
    emote = {"id": "25", "emote_set_id": "0", "owner_id": "0", "format": ["static"]}
    no_parts = {"cheermote": None, "emote": None, "mention": None}
    event["message"] = {
        "text": text,
        "fragments": [
            {"type": "text", "text": text[:-5], **no_parts},
            {"type": "emote", "text": "Kappa", **no_parts, "emote": emote},
        ],
    }
    event["color"] = "#00FF7F"
    event["badges"] = [
        {"set_id": "moderator", "id": "1", "info": ""},
        {"set_id": "subscriber", "id": "12", "info": "16"},
    ]


def _chat_notification(event: JSON, ctx: _Context) -> None:
    event["system_message"] = f"{event['chatter_user_name']} subscribed at Tier 1."
    event["message"] = {"text": "", "fragments": []}
    if not ctx.filled:
        event["sub"] = {"sub_tier": "1000", "is_prime": False, "duration_months": 1}


def _named_user(*names: str) -> Preset:
    """Nullable users (anonymous gifts, cheers...) are named in a default event."""

    def preset(event: JSON, ctx: _Context) -> None:
        for name in names:
            if event.get(f"{name}_id") is None:
                user_id = ctx.condition.get(f"{name}_id") or _someone()
                event[f"{name}_id"] = user_id
                event[f"{name}_login"] = _login(user_id)
                event[f"{name}_name"] = _login(user_id).capitalize()

    return preset


def _ban(event: JSON, ctx: _Context) -> None:
    event["is_permanent"] = event["ends_at"] is None


def _whisper(event: JSON, ctx: _Context) -> None:
    recipient = ctx.condition.get("user_id") or event["to_user_id"]
    event.update(to_user_id=recipient, to_user_login=_login(recipient))
    event["to_user_name"] = _login(recipient).capitalize()


def _moderate(event: JSON, ctx: _Context) -> None:
    if event["ban"] is None:  # the action is "ban": its object is set
        user_id = _someone()
        event["ban"] = {
            "user_id": user_id,
            "user_login": _login(user_id),
            "user_name": _login(user_id).capitalize(),
            "reason": "Offensive language",
        }


def _automod(event: JSON, ctx: _Context) -> None:
    if event.get("reason") == "automod" and event["automod"] is None:  # v2: its object is set
        event["automod"] = {
            "category": "swearing",
            "level": 4,
            "boundaries": [{"start_pos": 0, "end_pos": 4}],
        }


def _reward(event: JSON, ctx: _Context) -> None:
    """The reward the condition names (a reward event's id, a redemption's reward.id)."""
    reward_id = ctx.condition.get("reward_id")
    if reward_id:
        target = event.get("reward", event)  # a redemption's reward, or the reward itself
        target["id"] = reward_id


def _entitlement(event: JSON, ctx: _Context) -> None:
    for name in ("organization_id", "category_id", "campaign_id"):
        if ctx.condition.get(name):
            event["data"][name] = ctx.condition[name]


_PRESETS: dict[str, Preset] = {
    "channel.chat.message": _chat_message,
    "channel.chat.notification": _chat_notification,
    "channel.subscription.gift": _named_user("user"),
    "channel.cheer": _named_user("user"),
    "channel.unban_request.resolve": _named_user("moderator_user"),
    "user.authorization.revoke": _named_user("user"),
    "channel.guest_star_guest.update": _named_user("moderator_user", "guest_user"),
    "channel.ban": _ban,
    "user.whisper.message": _whisper,
    "channel.moderate": _moderate,
    "automod.message.hold": _automod,
    "automod.message.update": _automod,
    "channel.channel_points_custom_reward.update": _reward,
    "channel.channel_points_custom_reward.remove": _reward,
    "channel.channel_points_custom_reward_redemption.add": _reward,
    "channel.channel_points_custom_reward_redemption.update": _reward,
    "drop.entitlement.grant": _entitlement,
}


def event_for(
    topic: catalog.Topic, condition: Mapping[str, str], now: float, *, filled: bool = False
) -> Any:
    """A realistic event of this topic for this condition (a list of one, if batched)."""
    ctx = _Context(condition, now, filled)
    event: JSON = _builder(topic.key)(ctx, {})
    preset = _PRESETS.get(topic.type)
    if preset is not None:
        preset(event, ctx)
    return [event] if topic.batched else event
