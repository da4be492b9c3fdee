"""Every catalog topic subscribed on the simulator, on every transport (issue 13).

Where the topic allows the transport: created with the condition as given, and the cost
Twitch charges (0 for a type that needs a scope; 1 for one that only names a user nobody
authorized). Where it does not: the refusal naming the transport. A type that needs a
scope is refused (403) to a token without one.
"""

from __future__ import annotations

import pytest

from kiss.eventsub import catalog
from kiss.simulator import DEMO_CLIENT_ID, SimulatorConfig
from kiss.simulator.twitch import conduits, sessions, subscriptions
from kiss.simulator.twitch.identity import Token
from kiss.simulator.twitch.problems import TwitchProblem
from kiss.simulator.twitch.world import SimulatorState

NOW = 1_700_000_000.0
BROADCASTER, MODERATOR, CHATTER, BYSTANDER = "1001", "2002", "3003", "4004"
VALUES = {
    "broadcaster_user_id": BROADCASTER,
    "from_broadcaster_user_id": BROADCASTER,
    "moderator_user_id": MODERATOR,
    "user_id": CHATTER,
    "client_id": DEMO_CLIENT_ID,
    "extension_client_id": DEMO_CLIENT_ID,
    "organization_id": "org-1",
}
TOPICS = pytest.mark.parametrize("topic", catalog.TOPICS, ids=lambda t: f"{t.type}-v{t.version}")


def condition_of(topic: catalog.Topic) -> dict[str, str]:
    return {name: VALUES[name] for name in (*topic.required, *topic.exactly_one_of[:1])}


def all_scopes(topic: catalog.Topic) -> set[str]:
    """One of any_scope, and one of every group where the type has groups."""
    return {sorted(topic.any_scope)[0], *(sorted(group)[0] for group in topic.scope_groups)}


def reader(topic: catalog.Topic, condition: dict[str, str]) -> str:
    """The user whose token Twitch checks: the chatter of chat types, else the moderator or
    the user the condition names; for a type that needs no scope, a bystander."""
    if not topic.any_scope:
        return BYSTANDER
    for name in ("user_id", "moderator_user_id", "broadcaster_user_id"):
        if name in condition:
            return condition[name]
    raise AssertionError(f"{topic.type}: no user to read as")


@pytest.fixture
def state() -> SimulatorState:
    return SimulatorState(SimulatorConfig())


def app_token(state: SimulatorState) -> Token:
    return state.identity.mint(DEMO_CLIENT_ID, None, (), 3600, NOW)


def transport(state: SimulatorState, method: str, token: Token) -> dict[str, str]:
    if method == "websocket":
        return {"method": method, "session_id": sessions.open_session(state, 10, NOW).id}
    if method == "conduit":
        conduit = conduits.create(state, token, {"shard_count": 1}, NOW)["data"][0]
        return {"method": method, "conduit_id": conduit["id"]}
    return {"method": method, "callback": "https://bot.example.com/cb", "secret": "s" * 16}


def body(
    topic: catalog.Topic, condition: dict[str, str], where: dict[str, str]
) -> dict[str, object]:
    return {
        "type": topic.type,
        "version": topic.version,
        "condition": condition,
        "transport": where,
    }


def token_for(state: SimulatorState, topic: catalog.Topic, method: str, scoped: bool) -> Token:
    condition = condition_of(topic)
    scopes = all_scopes(topic) if scoped and topic.any_scope else set()
    if method == "websocket":
        return state.identity.mint(DEMO_CLIENT_ID, reader(topic, condition), scopes, 3600, NOW)
    if scopes:  # an app token acts for the users who authorized the client
        if topic.app_token_scopes:
            state.identity.authorize(DEMO_CLIENT_ID, condition["user_id"], {*scopes, "user:bot"})
            state.identity.authorize(
                DEMO_CLIENT_ID, condition["broadcaster_user_id"], {"channel:bot"}
            )
        else:
            state.identity.authorize(DEMO_CLIENT_ID, reader(topic, condition), scopes)
    return app_token(state)


@TOPICS
@pytest.mark.parametrize("method", ["websocket", "conduit", "webhook"])
def test_subscribe_with_the_right_condition_scope_and_cost(
    state: SimulatorState, topic: catalog.Topic, method: str
) -> None:
    token = token_for(state, topic, method, scoped=True)
    condition = condition_of(topic)
    request = body(topic, condition, transport(state, method, token))
    if method not in topic.transports:
        with pytest.raises(TwitchProblem) as refused:
            subscriptions.create(state, token, request, NOW)
        assert refused.value.status == 400
        assert refused.value.message == f"{topic.type} does not support the {method} transport"
        return
    [created] = subscriptions.create(state, token, request, NOW)["data"]
    assert (created["type"], created["version"]) == topic.key
    assert created["condition"] == condition
    assert created["transport"]["method"] == method
    assert created["cost"] == (0 if topic.any_scope else 1)


@pytest.mark.parametrize(
    "topic", [t for t in catalog.TOPICS if t.any_scope], ids=lambda t: f"{t.type}-v{t.version}"
)
@pytest.mark.parametrize("method", ["websocket", "conduit"])
def test_a_token_without_the_scope_is_refused(
    state: SimulatorState, topic: catalog.Topic, method: str
) -> None:
    token = token_for(state, topic, method, scoped=False)
    request = body(topic, condition_of(topic), transport(state, method, token))
    with pytest.raises(TwitchProblem) as refused:
        subscriptions.create(state, token, request, NOW)
    assert (refused.value.status, refused.value.message) == (
        403,
        "subscription missing proper authorization",
    )


@TOPICS
def test_a_condition_missing_a_required_field_is_refused(
    state: SimulatorState, topic: catalog.Topic
) -> None:
    method = sorted(topic.transports)[0]
    token = token_for(state, topic, method, scoped=True)
    condition = condition_of(topic)
    condition.pop(sorted(condition)[0])
    with pytest.raises(TwitchProblem) as refused:
        subscriptions.create(
            state, token, body(topic, condition, transport(state, method, token)), NOW
        )
    assert refused.value.status == 400 and topic.type in refused.value.message


@pytest.mark.parametrize(
    "topic", [t for t in catalog.TOPICS if t.scope_groups], ids=lambda t: f"{t.type}-v{t.version}"
)
@pytest.mark.parametrize("method", ["websocket", "conduit"])
def test_one_scope_of_every_group_or_a_refusal(
    state: SimulatorState, topic: catalog.Topic, method: str
) -> None:
    condition = condition_of(topic)
    missing_group = sorted(topic.scope_groups, key=sorted)[-1]
    partial = all_scopes(topic) - missing_group
    user = reader(topic, condition)
    if method == "websocket":
        token = state.identity.mint(DEMO_CLIENT_ID, user, partial, 3600, NOW)
    else:
        state.identity.authorize(DEMO_CLIENT_ID, user, partial)
        token = app_token(state)
    request = body(topic, condition, transport(state, method, token))
    with pytest.raises(TwitchProblem) as refused:
        subscriptions.create(state, token, request, NOW)
    assert refused.value.status == 403
