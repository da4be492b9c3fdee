"""Realistic event payloads for every catalog type, with Twitch's field names.

``event_for(type, version, condition, now)`` fills the users named by the condition and
invents the rest; the event's own id (where the type has one) is fresh on every call.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping

from kiss.eventsub import catalog
from kiss.simulator.clock import timestamp
from kiss.simulator.model import JSON

Builder = Callable[[Mapping[str, str], float], JSON]


def _user(prefix: str, user_id: str) -> JSON:
    login = f"user{user_id}"
    return {f"{prefix}_id": user_id, f"{prefix}_login": login, f"{prefix}_name": login.capitalize()}


def _broadcaster(condition: Mapping[str, str]) -> JSON:
    return _user("broadcaster_user", condition.get("broadcaster_user_id", "12826"))


def _someone() -> str:
    return str(random.randint(10_000_000, 99_999_999))


def _chatter(condition: Mapping[str, str]) -> JSON:
    return _user("chatter_user", _someone())


def _stream_online(condition: Mapping[str, str], now: float) -> JSON:
    return {
        "id": str(random.randint(10**10, 10**11)),
        **_broadcaster(condition),
        "type": "live",
        "started_at": timestamp(now),
    }


def _stream_offline(condition: Mapping[str, str], now: float) -> JSON:
    return _broadcaster(condition)


def _channel_update(condition: Mapping[str, str], now: float) -> JSON:
    return {
        **_broadcaster(condition),
        "title": "Best Stream Ever",
        "language": "en",
        "category_id": "509658",
        "category_name": "Just Chatting",
        "content_classification_labels": [],
    }


def _user_update(condition: Mapping[str, str], now: float) -> JSON:
    return {
        **_user("user", condition.get("user_id", "1337")),
        "email": "user@example.com",
        "email_verified": True,
        "description": "cool description",
    }


def _follow(condition: Mapping[str, str], now: float) -> JSON:
    return {**_user("user", _someone()), **_broadcaster(condition), "followed_at": timestamp(now)}


def _subscribe(condition: Mapping[str, str], now: float) -> JSON:
    return {
        **_user("user", _someone()),
        **_broadcaster(condition),
        "tier": "1000",
        "is_gift": False,
    }


def _gift(condition: Mapping[str, str], now: float) -> JSON:
    return {
        **_user("user", _someone()),
        **_broadcaster(condition),
        "total": 2,
        "tier": "1000",
        "cumulative_total": 284,
        "is_anonymous": False,
    }


def _sub_message(condition: Mapping[str, str], now: float) -> JSON:
    return {
        **_user("user", _someone()),
        **_broadcaster(condition),
        "tier": "1000",
        "message": {
            "text": "Love the stream! FevziGG",
            "emotes": [{"begin": 23, "end": 30, "id": "302976485"}],
        },
        "cumulative_months": 15,
        "streak_months": 1,
        "duration_months": 6,
    }


def _cheer(condition: Mapping[str, str], now: float) -> JSON:
    return {
        "is_anonymous": False,
        **_user("user", _someone()),
        **_broadcaster(condition),
        "message": "pogchamp",
        "bits": 1000,
    }


def _raid(condition: Mapping[str, str], now: float) -> JSON:
    source = condition.get("from_broadcaster_user_id") or _someone()
    target = condition.get("to_broadcaster_user_id") or _someone()
    return {
        **_user("from_broadcaster_user", source),
        **_user("to_broadcaster_user", target),
        "viewers": 9001,
    }


def _ban(condition: Mapping[str, str], now: float) -> JSON:
    return {
        **_user("user", _someone()),
        **_broadcaster(condition),
        **_user("moderator_user", _someone()),
        "reason": "Offensive language",
        "banned_at": timestamp(now),
        "ends_at": None,
        "is_permanent": True,
    }


def _user_and_broadcaster(condition: Mapping[str, str], now: float) -> JSON:
    return {**_user("user", _someone()), **_broadcaster(condition)}


def _unban(condition: Mapping[str, str], now: float) -> JSON:
    return {**_user_and_broadcaster(condition, now), **_user("moderator_user", _someone())}


def _reward(condition: Mapping[str, str], now: float) -> JSON:
    return {
        "id": condition.get("reward_id") or str(uuid.uuid4()),
        **_broadcaster(condition),
        "is_enabled": True,
        "is_paused": False,
        "is_in_stock": True,
        "title": "Cool Reward",
        "cost": 100,
        "prompt": "reward prompt",
        "is_user_input_required": True,
        "should_redemptions_skip_request_queue": False,
        "cooldown_expires_at": None,
        "redemptions_redeemed_current_stream": None,
        "max_per_stream": {"is_enabled": True, "value": 1000},
        "max_per_user_per_stream": {"is_enabled": True, "value": 1000},
        "global_cooldown": {"is_enabled": True, "seconds": 1000},
        "background_color": "#FA1ED2",
        "image": None,
        "default_image": {
            "url_1x": "https://static-cdn.jtvnw.net/image-1.png",
            "url_2x": "https://static-cdn.jtvnw.net/image-2.png",
            "url_4x": "https://static-cdn.jtvnw.net/image-4.png",
        },
    }


def _redemption(condition: Mapping[str, str], now: float) -> JSON:
    return {
        "id": str(uuid.uuid4()),
        **_broadcaster(condition),
        **_user("user", _someone()),
        "user_input": "pogchamp",
        "status": "unfulfilled",
        "reward": {
            "id": condition.get("reward_id") or str(uuid.uuid4()),
            "title": "Cool Reward",
            "cost": 100,
            "prompt": "reward prompt",
        },
        "redeemed_at": timestamp(now),
    }


def _poll(condition: Mapping[str, str], now: float) -> JSON:
    return {
        "id": str(uuid.uuid4()),
        **_broadcaster(condition),
        "title": "Aren't shoes just really hard socks?",
        "choices": [
            {
                "id": str(uuid.uuid4()),
                "title": "Blue",
                "bits_votes": 0,
                "channel_points_votes": 0,
                "votes": 0,
            },
            {
                "id": str(uuid.uuid4()),
                "title": "Yellow",
                "bits_votes": 0,
                "channel_points_votes": 0,
                "votes": 0,
            },
        ],
        "bits_voting": {"is_enabled": True, "amount_per_vote": 10},
        "channel_points_voting": {"is_enabled": True, "amount_per_vote": 10},
        "started_at": timestamp(now),
        "ends_at": timestamp(now + 300),
    }


def _prediction(condition: Mapping[str, str], now: float) -> JSON:
    return {
        "id": str(uuid.uuid4()),
        **_broadcaster(condition),
        "title": "Aren't shoes just really hard socks?",
        "outcomes": [
            {"id": str(uuid.uuid4()), "title": "Yeah!", "color": "blue"},
            {"id": str(uuid.uuid4()), "title": "No!", "color": "pink"},
        ],
        "started_at": timestamp(now),
        "locks_at": timestamp(now + 300),
    }


def _hype_train(condition: Mapping[str, str], now: float) -> JSON:
    return {
        "id": str(uuid.uuid4()),
        **_broadcaster(condition),
        "total": 137,
        "progress": 137,
        "goal": 500,
        "top_contributions": [{**_user("user", _someone()), "type": "bits", "total": 50}],
        "level": 2,
        "all_time_high_level": 4,
        "all_time_high_total": 2845,
        "shared_train_participants": None,
        "started_at": timestamp(now),
        "expires_at": timestamp(now + 300),
        "type": "regular",
        "is_shared_train": False,
    }


def _goal(condition: Mapping[str, str], now: float) -> JSON:
    return {
        "id": str(uuid.uuid4()),
        **_broadcaster(condition),
        "type": "followers",
        "description": "Follow goal for Helix testing",
        "current_amount": 27062,
        "target_amount": 30000,
        "started_at": timestamp(now),
    }


def _chat_message(condition: Mapping[str, str], now: float) -> JSON:
    text = "Hi chat, this is a realistic message from the Kiss simulator! Kappa"
    return {
        **_broadcaster(condition),
        **_chatter(condition),
        "message_id": str(uuid.uuid4()),
        "message": {
            "text": text,
            "fragments": [
                {
                    "type": "text",
                    "text": text[:-5],
                    "cheermote": None,
                    "emote": None,
                    "mention": None,
                },
                {
                    "type": "emote",
                    "text": "Kappa",
                    "cheermote": None,
                    "emote": {
                        "id": "25",
                        "emote_set_id": "0",
                        "owner_id": "0",
                        "format": ["static"],
                    },
                    "mention": None,
                },
            ],
        },
        "color": "#00FF7F",
        "badges": [
            {"set_id": "moderator", "id": "1", "info": ""},
            {"set_id": "subscriber", "id": "12", "info": "16"},
        ],
        "message_type": "text",
        "cheer": None,
        "reply": None,
        "channel_points_custom_reward_id": None,
        "source_broadcaster_user_id": None,
        "source_broadcaster_user_login": None,
        "source_broadcaster_user_name": None,
        "source_message_id": None,
        "source_badges": None,
        "is_source_only": None,
    }


def _chat_notification(condition: Mapping[str, str], now: float) -> JSON:
    return {
        **_broadcaster(condition),
        **_chatter(condition),
        "chatter_is_anonymous": False,
        "color": "#00FF7F",
        "badges": [],
        "system_message": "A user subscribed at Tier 1.",
        "message_id": str(uuid.uuid4()),
        "message": {"text": "", "fragments": []},
        "notice_type": "sub",
        "sub": {"sub_tier": "1000", "is_prime": False, "duration_months": 1},
    }


def _chat_clear(condition: Mapping[str, str], now: float) -> JSON:
    return _broadcaster(condition)


def _chat_delete(condition: Mapping[str, str], now: float) -> JSON:
    return {
        **_broadcaster(condition),
        **_user("target_user", _someone()),
        "message_id": str(uuid.uuid4()),
    }


def _ad_break(condition: Mapping[str, str], now: float) -> JSON:
    return {
        "duration_seconds": 60,
        "started_at": timestamp(now),
        "is_automatic": False,
        **_broadcaster(condition),
        **_user("requester_user", condition.get("broadcaster_user_id", "12826")),
    }


def _shoutout(condition: Mapping[str, str], now: float) -> JSON:
    return {
        **_broadcaster(condition),
        **_user("to_broadcaster_user", _someone()),
        **_user("moderator_user", condition.get("moderator_user_id", _someone())),
        "viewer_count": 860,
        "started_at": timestamp(now),
        "cooldown_ends_at": timestamp(now + 120),
        "target_cooldown_ends_at": timestamp(now + 3600),
    }


def _shield(condition: Mapping[str, str], now: float) -> JSON:
    return {
        **_broadcaster(condition),
        **_user("moderator_user", condition.get("moderator_user_id", _someone())),
        "started_at": timestamp(now),
    }


def _charity(condition: Mapping[str, str], now: float) -> JSON:
    return {
        "id": str(uuid.uuid4()),
        "campaign_id": str(uuid.uuid4()),
        **_broadcaster(condition),
        **_user("user", _someone()),
        "charity_name": "Example name",
        "charity_description": "Example description",
        "charity_logo": "https://abc.cloudfront.net/ppgf/1000/100.png",
        "charity_website": "https://www.example.com",
        "amount": {"value": 10000, "decimal_places": 2, "currency": "USD"},
    }


def _shard_disabled(condition: Mapping[str, str], now: float) -> JSON:
    return {
        "conduit_id": condition.get("conduit_id") or str(uuid.uuid4()),
        "shard_id": "0",
        "status": "websocket_disconnected",
        "transport": {
            "method": "websocket",
            "session_id": "AgoQ1k1ZnkzEQFOy8oL3l2F2jBIGY2VsbC1h",
            "connected_at": timestamp(now - 60),
            "disconnected_at": timestamp(now),
        },
    }


BUILDERS: dict[str, Builder] = {
    "stream.online": _stream_online,
    "stream.offline": _stream_offline,
    "channel.update": _channel_update,
    "user.update": _user_update,
    "channel.follow": _follow,
    "channel.subscribe": _subscribe,
    "channel.subscription.end": _subscribe,
    "channel.subscription.gift": _gift,
    "channel.subscription.message": _sub_message,
    "channel.cheer": _cheer,
    "channel.raid": _raid,
    "channel.ban": _ban,
    "channel.unban": _unban,
    "channel.moderator.add": _user_and_broadcaster,
    "channel.moderator.remove": _user_and_broadcaster,
    "channel.vip.add": _user_and_broadcaster,
    "channel.vip.remove": _user_and_broadcaster,
    "channel.channel_points_custom_reward.add": _reward,
    "channel.channel_points_custom_reward.update": _reward,
    "channel.channel_points_custom_reward.remove": _reward,
    "channel.channel_points_custom_reward_redemption.add": _redemption,
    "channel.channel_points_custom_reward_redemption.update": _redemption,
    "channel.poll.begin": _poll,
    "channel.poll.progress": _poll,
    "channel.poll.end": _poll,
    "channel.prediction.begin": _prediction,
    "channel.prediction.progress": _prediction,
    "channel.prediction.lock": _prediction,
    "channel.prediction.end": _prediction,
    "channel.hype_train.begin": _hype_train,
    "channel.hype_train.progress": _hype_train,
    "channel.hype_train.end": _hype_train,
    "channel.goal.begin": _goal,
    "channel.goal.progress": _goal,
    "channel.goal.end": _goal,
    "channel.chat.message": _chat_message,
    "channel.chat.notification": _chat_notification,
    "channel.chat.clear": _chat_clear,
    "channel.chat.message_delete": _chat_delete,
    "channel.ad_break.begin": _ad_break,
    "channel.shoutout.create": _shoutout,
    "channel.shoutout.receive": _shoutout,
    "channel.shield_mode.begin": _shield,
    "channel.shield_mode.end": _shield,
    "channel.charity_campaign.donate": _charity,
    "conduit.shard.disabled": _shard_disabled,
}


def event_for(topic: catalog.Topic, condition: Mapping[str, str], now: float) -> JSON:
    """A realistic event of this topic for this condition."""
    builder = BUILDERS.get(topic.type)
    if builder is None:
        return _broadcaster(condition)
    return builder(condition, now)
