"""Helix EventSub subscriptions: create, list, delete, with Twitch's real rules (no I/O)."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from kiss.errors import InvalidCondition, UnknownTopic
from kiss.eventsub import catalog
from kiss.simulator.twitch.clock import timestamp
from kiss.simulator.twitch.identity import Token
from kiss.simulator.twitch.model import JSON, Owner, Subscription
from kiss.simulator.twitch.problems import (
    TwitchProblem,
    bad_request,
    conflict,
    forbidden,
    not_found,
    too_many,
)
from kiss.simulator.twitch.world import SimulatorState

FILTERS = ("status", "type", "user_id", "subscription_id", "conduit_id")
WRONG_AUTH = "invalid transport and auth combination"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def user_ids(condition: Mapping[str, str]) -> set[str]:
    return {value for name, value in condition.items() if name.endswith("user_id")}


def owned_by(token: Token, sub: Subscription) -> bool:
    """User tokens see their websocket subscriptions; app tokens their conduit/webhook ones."""
    if sub.client_id != token.client_id:
        return False
    if token.is_app:
        return sub.method != "websocket"
    return sub.method == "websocket" and sub.user_id == token.user_id


def owner_of(token: Token) -> Owner:
    return (token.client_id, token.user_id)


def owner_subscriptions(state: SimulatorState, token: Token) -> list[Subscription]:
    """User tokens see their websocket subscriptions; app tokens their conduit/webhook ones."""
    return state.owned(owner_of(token))


def max_total_cost(state: SimulatorState, token: Token) -> int:
    config = state.config
    return config.app_max_total_cost if token.is_app else config.ws_max_total_cost


def totals(state: SimulatorState, token: Token) -> JSON:
    owner = owner_of(token)
    return {
        "total": state.owned_count(owner),
        "total_cost": state.enabled_cost(owner),
        "max_total_cost": max_total_cost(state, token),
    }


def _field(body: Mapping[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if value is None or value == "":
        raise bad_request(f"missing required parameter: {name}")
    if not isinstance(value, kind):
        raise bad_request(f"{name} must be a {'string' if kind is str else 'JSON object'}")
    return value


def _topic(type_: str, version: str) -> catalog.Topic:
    if catalog.is_removed(type_, version):
        raise TwitchProblem(410, f"{type_} version {version} has been removed")
    try:
        return catalog.lookup(type_, version)
    except UnknownTopic:
        raise bad_request(f"invalid subscription type and version: {type_} v{version}") from None


def _check_transport(state: SimulatorState, token: Token, transport: Mapping[str, Any]) -> str:
    method = transport.get("method")
    if method == "websocket":
        if token.is_app:
            raise bad_request(WRONG_AUTH)
        session_id = _field(transport, "session_id", str)
        session = state.sessions.get(session_id)
        if session is None or not session.live:
            raise bad_request(
                "websocket transport session does not exist or has already disconnected"
            )
        if session.owner is not None and session.owner != (token.client_id, token.user_id):
            raise bad_request(
                "websocket transport cannot have subscriptions created by different users"
            )
        return "websocket"
    if method == "conduit":
        if not token.is_app:
            raise bad_request(WRONG_AUTH)
        conduit = state.conduits.get(_field(transport, "conduit_id", str))
        if conduit is None or conduit.client_id != token.client_id:
            raise bad_request("conduit not found")
        return "conduit"
    if method == "webhook":
        if not token.is_app:
            raise bad_request("auth must use app access token to create webhook subscription")
        callback = _field(transport, "callback", str)
        if not callback_allowed(callback):
            raise bad_request("invalid transport callback: must use https on port 443")
        secret = _field(transport, "secret", str)
        if not (10 <= len(secret) <= 100 and secret.isascii()):
            raise bad_request("invalid transport secret: must be 10-100 ASCII characters")
        return "webhook"
    raise bad_request(f"invalid transport method {method!r}: use websocket, conduit or webhook")


def callback_allowed(callback: str) -> bool:
    """Twitch wants https on port 443; the simulator also takes http to a loopback address."""
    url = urlsplit(callback)
    if url.scheme == "https":
        return url.port in (None, 443)
    return url.scheme == "http" and url.hostname in LOOPBACK


def _check_authorization(
    state: SimulatorState, token: Token, topic: catalog.Topic, condition: Mapping[str, str]
) -> None:
    if not topic.any_scope or token.unchecked:
        return
    missing = forbidden("subscription missing proper authorization")
    users = user_ids(condition)
    if not token.is_app:
        # Chat types read as the chatting user; the others as a user named by the condition.
        allowed = {condition.get("user_id")} if topic.app_token_scopes else users
        if not _grants(token.scopes, topic) or token.user_id not in allowed:
            raise missing
        return
    granted = state.identity.granted
    if topic.app_token_scopes:
        chatter = condition.get("user_id", "")
        broadcaster = condition.get("broadcaster_user_id", "")
        chatter_scopes = granted(token.client_id, chatter)
        if not (chatter_scopes & topic.any_scope and "user:bot" in chatter_scopes):
            raise missing
        if chatter != broadcaster and "channel:bot" not in granted(token.client_id, broadcaster):
            raise missing
        return
    if not any(_grants(granted(token.client_id, user), topic) for user in users):
        raise missing


def _grants(scopes: frozenset[str] | set[str], topic: catalog.Topic) -> bool:
    """One of the topic's scopes, and one of each of its groups (``channel.moderate``)."""
    return bool(scopes & topic.any_scope) and all(scopes & group for group in topic.scope_groups)


def _check_limits(
    state: SimulatorState,
    token: Token,
    method: str,
    transport: Mapping[str, Any],
    topic: catalog.Topic,
    condition: dict[str, str],
    cost: int,
) -> None:
    config = state.config
    owner = owner_of(token)
    alike = state.alike((owner, topic.type, topic.version, frozenset(condition.items())))
    for sub in alike:
        same_place = (method != "websocket" or sub.session_id == transport.get("session_id")) and (
            method != "conduit" or sub.conduit_id == transport.get("conduit_id")
        )
        if sub.enabled and same_place:
            raise conflict("subscription already exists")
    if len(alike) >= config.max_same_type_condition:
        raise too_many("maximum subscriptions with type and condition exceeded")
    if method == "websocket":
        session_id = transport["session_id"]
        on_session = sum(1 for sub in state.session_subscriptions(session_id) if sub.enabled)
        if on_session >= config.ws_max_subscriptions:
            raise too_many("maximum subscriptions per websocket transport exceeded")
        busy = {sub.session_id for sub in state.owned(owner) if sub.enabled}
        if session_id not in busy and len(busy) >= config.ws_max_connections:
            raise too_many("number of websocket transports limit exceeded")
    if cost and state.enabled_cost(owner) + cost > max_total_cost(state, token):
        raise too_many("total cost exceeded")


def create(state: SimulatorState, token: Token, body: Any, now: float) -> JSON:
    """POST /eventsub/subscriptions: the 202 body, or a TwitchProblem."""
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    type_ = _field(body, "type", str)
    version = _field(body, "version", str)
    condition_in = _field(body, "condition", dict)
    transport = _field(body, "transport", dict)
    topic = _topic(type_, version)
    method = transport.get("method")
    if method in catalog.ALL_TRANSPORTS and method not in topic.transports:
        raise bad_request(f"{type_} does not support the {method} transport")
    try:
        condition = topic.validate_condition(condition_in)
    except InvalidCondition as error:
        raise bad_request(str(error)) from None
    if state.config.require_known_users:
        for user in sorted(user_ids(condition)):
            if user not in state.identity.users:
                raise bad_request(f"user {user} in the condition does not exist")
    method = _check_transport(state, token, transport)
    _check_authorization(state, token, topic, condition)
    authorized = any(
        state.identity.has_authorized(token.client_id, user) for user in user_ids(condition)
    )
    cost = topic.cost(authorized)
    _check_limits(state, token, method, transport, topic, condition, cost)
    sub = Subscription(
        id=str(uuid.uuid4()),
        type=topic.type,
        version=topic.version,
        condition=condition,
        method=method,
        client_id=token.client_id,
        created_at=timestamp(now),
        cost=cost,
        status="webhook_callback_verification_pending" if method == "webhook" else "enabled",
        user_id=token.user_id if method == "websocket" else None,
        session_id=transport.get("session_id") if method == "websocket" else None,
        conduit_id=transport.get("conduit_id") if method == "conduit" else None,
        callback=transport.get("callback") if method == "webhook" else None,
        secret=transport.get("secret") if method == "webhook" else None,
    )
    if method == "websocket":
        session = state.sessions[transport["session_id"]]
        session.owner = (token.client_id, token.user_id or "")
        session.used = True
        sub.connected_at = session.connected_at
    state.add_subscription(sub)
    return {"data": [sub.to_json()], **totals(state, token)}


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        kind, _, number = text.partition(":")
        if kind != "offset" or not number.isdigit():
            raise ValueError(text)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise bad_request(f"invalid cursor {cursor!r}") from None


def _matches(sub: Subscription, name: str, value: str) -> bool:
    if name == "status":
        return sub.status == value
    if name == "type":
        return sub.type == value
    if name == "user_id":
        return value in user_ids(sub.condition)
    if name == "subscription_id":
        return sub.id == value
    return sub.conduit_id == value


def listing(state: SimulatorState, token: Token, query: Mapping[str, str]) -> JSON:
    """GET /eventsub/subscriptions with one optional filter and cursor pagination."""
    given = [(name, query[name]) for name in FILTERS if query.get(name)]
    if len(given) > 1:
        names = ", ".join(name for name, _ in given)
        raise bad_request(f"only one filter may be given; got {names}")
    subs = owner_subscriptions(state, token)
    if given:
        name, value = given[0]
        subs = [sub for sub in subs if _matches(sub, name, value)]
    start = _offset(query["after"]) if query.get("after") else 0
    size = state.config.page_size
    page = subs[start : start + size]
    pagination: JSON = {"cursor": _cursor(start + size)} if start + size < len(subs) else {}
    return {
        "data": [sub.to_json() for sub in page],
        **totals(state, token),
        "pagination": pagination,
    }


def delete(state: SimulatorState, token: Token, subscription_id: str | None) -> Subscription:
    """DELETE /eventsub/subscriptions?id=: the removed subscription, or 400/404."""
    if not subscription_id:
        raise bad_request("missing required parameter: id")
    sub = state.subscriptions.get(subscription_id)
    if sub is None or not owned_by(token, sub):
        raise not_found("subscription not found")
    state.remove_subscription(subscription_id)
    return sub


def revoke(state: SimulatorState, subscription_id: str, reason: str, now: float) -> Subscription:
    """Twitch revokes a subscription: it is disabled with the reason as its status."""
    sub = state.subscriptions.get(subscription_id)
    if sub is None:
        raise not_found(f"subscription {subscription_id} not found")
    if not reason:
        raise bad_request("reason is required, e.g. authorization_revoked")
    state.disable(sub, reason, now)
    return sub


def matching(
    subs: Iterable[Subscription],
    type_: str,
    version: str,
    channel: str | None,
    condition: Mapping[str, str] | None,
) -> list[Subscription]:
    """Enabled subscriptions an event of this type for this channel (or condition) reaches."""
    found = []
    for sub in subs:
        if not sub.enabled or sub.type != type_ or sub.version != version:
            continue
        if condition is not None:
            if all(sub.condition.get(name) == value for name, value in condition.items()):
                found.append(sub)
        elif channel is None or sub.channel == channel:
            found.append(sub)
    return found
