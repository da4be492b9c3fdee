"""Subscription rules as pure functions: ownership, totals, matching, revoke, listing errors."""

from __future__ import annotations

from typing import Any

import pytest

from kiss.simulator import SimulatorConfig
from kiss.simulator.twitch import sessions, subscriptions
from kiss.simulator.twitch.identity import Token
from kiss.simulator.twitch.problems import TwitchProblem
from kiss.simulator.twitch.world import SimulatorState

NOW = 1_700_000_000.0


@pytest.fixture
def state() -> SimulatorState:
    return SimulatorState(SimulatorConfig(require_known_users=True))


def user_token(state: SimulatorState, user_id: str, *scopes: str) -> Token:
    return state.identity.mint("kiss-demo-client", user_id, scopes, 100, NOW)


def create(state: SimulatorState, token: Token, session_id: str, channel: str) -> dict[str, Any]:
    body = {
        "type": "stream.online",
        "version": "1",
        "condition": {"broadcaster_user_id": channel},
        "transport": {"method": "websocket", "session_id": session_id},
    }
    return subscriptions.create(state, token, body, NOW)


def test_create_binds_the_session_to_its_user(state: SimulatorState) -> None:
    session = sessions.open_session(state, 10, NOW)
    token = user_token(state, "1")
    answer = create(state, token, session.id, "1")
    assert answer["total"] == 1 and session.owner == ("kiss-demo-client", "1") and session.used


def test_unknown_condition_user_is_400_when_strict(state: SimulatorState) -> None:
    session = sessions.open_session(state, 10, NOW)
    token = user_token(state, "1")
    with pytest.raises(TwitchProblem, match="user 999 in the condition does not exist"):
        create(state, token, session.id, "999")


def test_body_checks(state: SimulatorState) -> None:
    token = user_token(state, "1")
    for body, words in [
        ([], "JSON object"),
        ({"version": "1"}, "type"),
        ({"type": "stream.online", "version": "1", "condition": "x"}, "condition"),
        (
            {
                "type": "stream.online",
                "version": "1",
                "condition": {"broadcaster_user_id": "1"},
                "transport": {"method": "carrier-pigeon"},
            },
            "transport method",
        ),
        (
            {
                "type": "conduit.shard.disabled",
                "version": "1",
                "condition": {"client_id": "c"},
                "transport": {"method": "websocket"},
            },
            "does not support",
        ),
    ]:
        with pytest.raises(TwitchProblem, match=words):
            subscriptions.create(state, token, body, NOW)


def test_webhook_needs_an_app_token_https_and_a_secret(state: SimulatorState) -> None:
    app = state.identity.mint("kiss-demo-client", None, (), 100, NOW)
    state.identity.ensure_user("1")

    def body(**transport: str) -> dict[str, Any]:
        hook = {"method": "webhook", "callback": "https://example.com/hook", "secret": "0123456789"}
        return {
            "type": "stream.online",
            "version": "1",
            "condition": {"broadcaster_user_id": "1"},
            "transport": {**hook, **transport},
        }

    answer = subscriptions.create(state, app, body(), NOW)
    assert answer["data"][0]["status"] == "webhook_callback_verification_pending"
    assert answer["max_total_cost"] == 10_000
    with pytest.raises(TwitchProblem, match="app access token"):
        subscriptions.create(state, user_token(state, "1"), body(), NOW)
    with pytest.raises(TwitchProblem, match="https"):
        subscriptions.create(state, app, body(callback="http://example.com"), NOW)
    with pytest.raises(TwitchProblem, match="secret"):
        subscriptions.create(state, app, body(secret="short"), NOW)


def test_matching_by_channel_or_condition(state: SimulatorState) -> None:
    session = sessions.open_session(state, 10, NOW)
    token = user_token(state, "1")
    state.identity.ensure_user("2")
    create(state, token, session.id, "1")
    create(state, token, session.id, "2")
    subs = list(state.subscriptions.values())
    assert subscriptions.matching(subs, "stream.online", "1", "2", None) == [subs[1]]
    assert subscriptions.matching(
        subs, "stream.online", "1", None, {"broadcaster_user_id": "1"}
    ) == [subs[0]]
    assert subscriptions.matching(subs, "stream.online", "1", None, None) == subs
    assert subscriptions.matching(subs, "stream.offline", "1", None, None) == []


def test_revoke_needs_a_reason_and_a_subscription(state: SimulatorState) -> None:
    session = sessions.open_session(state, 10, NOW)
    create(state, user_token(state, "1"), session.id, "1")
    sub_id = next(iter(state.subscriptions))
    with pytest.raises(TwitchProblem, match="reason"):
        subscriptions.revoke(state, sub_id, "", NOW)
    with pytest.raises(TwitchProblem, match="not found"):
        subscriptions.revoke(state, "missing", "user_removed", NOW)
    assert subscriptions.revoke(state, sub_id, "version_removed", NOW).status == "version_removed"


def test_disabled_subscriptions_are_purged_after_retention(state: SimulatorState) -> None:
    session = sessions.open_session(state, 10, NOW)
    create(state, user_token(state, "1"), session.id, "1")
    sessions.end_session(state, session.id, 4006, NOW)
    assert state.purge_disabled(NOW + 59) == []
    assert len(state.purge_disabled(NOW + 60)) == 1 and state.subscriptions == {}
    assert session.id not in state.sessions


def test_disabled_subscriptions_of_lost_sessions_count_until_deleted(
    state: SimulatorState,
) -> None:
    token = user_token(state, "1")
    for _ in range(3):  # three sessions lost in a row, each leaving its subscription disabled
        session = sessions.open_session(state, 10, NOW)
        create(state, token, session.id, "1")
        sessions.end_session(state, session.id, 4006, NOW)
    fresh = sessions.open_session(state, 10, NOW)
    with pytest.raises(TwitchProblem, match="type and condition exceeded") as refused:
        create(state, token, fresh.id, "1")
    assert refused.value.status == 429
    doomed = next(iter(state.subscriptions))
    subscriptions.delete(state, token, doomed)  # the hub deletes one it replaces
    assert create(state, token, fresh.id, "1")["data"][0]["status"] == "enabled"
