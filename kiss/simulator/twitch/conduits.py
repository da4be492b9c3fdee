"""Helix conduits and conduit shards: create, get, update, delete, shard binding (no I/O)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from kiss.simulator.twitch.identity import Token
from kiss.simulator.twitch.model import JSON, Conduit, Shard, Subscription
from kiss.simulator.twitch.problems import (
    TwitchProblem,
    bad_request,
    not_found,
    too_many,
    unauthorized,
)
from kiss.simulator.twitch.subscriptions import callback_allowed
from kiss.simulator.twitch.world import SimulatorState


def require_app(token: Token) -> None:
    if not token.is_app:
        raise unauthorized(
            "The Authorization header is required and must contain an app access token"
        )


def parameters(query: Mapping[str, str], body: Any) -> Any:
    """The request's parameters: the JSON body's, and the query string's where the body
    has none. Twitch takes either (TwitchIO 3 sends ``?shard_count=2``, ``?id=..``,
    ``?conduit_id=..``), so the simulator does too."""
    if not query:
        return body
    if not isinstance(body, dict):
        if body not in (None, {}):
            return body  # a body that is not an object: the action names the problem
        body = {}
    merged = dict(body)
    for name in ("id", "conduit_id", "shard_count"):
        if name in query and name not in merged:
            merged[name] = query[name]
    if isinstance(merged.get("shard_count"), str):
        text = merged["shard_count"]
        merged["shard_count"] = int(text) if text.isdigit() else text
    return merged


def _shard_count(state: SimulatorState, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request("shard_count must be an integer")
    if not 1 <= value <= state.config.max_shards:
        raise bad_request(f"shard_count must be between 1 and {state.config.max_shards}")
    return value


def _owned(state: SimulatorState, token: Token, conduit_id: Any) -> Conduit:
    if not isinstance(conduit_id, str) or not conduit_id:
        raise bad_request("missing required parameter: id")
    conduit = state.conduits.get(conduit_id)
    if conduit is None or conduit.client_id != token.client_id:
        raise not_found("conduit not found")
    return conduit


def listing(state: SimulatorState, token: Token) -> JSON:
    require_app(token)
    mine = [c.to_json() for c in state.conduits.values() if c.client_id == token.client_id]
    return {"data": mine}


def create(state: SimulatorState, token: Token, body: Any, now: float) -> JSON:
    require_app(token)
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    count = _shard_count(state, body.get("shard_count"))
    owned = sum(1 for c in state.conduits.values() if c.client_id == token.client_id)
    if owned >= state.config.max_conduits:
        raise too_many("conduit limit reached")
    # No shard enabled yet: the 72 h clock runs from creation.
    conduit = Conduit(id=str(uuid.uuid4()), client_id=token.client_id, all_disabled_since=now)
    conduit.resize(count)
    state.conduits[conduit.id] = conduit
    return {"data": [conduit.to_json()]}


def update(state: SimulatorState, token: Token, body: Any) -> JSON:
    require_app(token)
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    conduit = _owned(state, token, body.get("id"))
    conduit.resize(_shard_count(state, body.get("shard_count")))
    return {"data": [conduit.to_json()]}


def delete(
    state: SimulatorState, token: Token, conduit_id: str | None, now: float
) -> list[Subscription]:
    """Remove a conduit; its subscriptions are disabled with ``conduit_deleted``."""
    require_app(token)
    conduit = _owned(state, token, conduit_id)
    return remove(state, conduit.id, now)


def remove(state: SimulatorState, conduit_id: str, now: float) -> list[Subscription]:
    conduit = state.conduits.pop(conduit_id)
    for shard in conduit.shards:
        session = state.sessions.get(shard.session_id or "")
        if session is not None and session.shard == (conduit_id, shard.id):
            session.shard = None
    disabled = []
    for sub in state.conduit_subscriptions(conduit_id):
        if sub.enabled:
            state.disable(sub, "conduit_deleted", now)
            disabled.append(sub)
    return disabled


def shards(state: SimulatorState, token: Token, query: Mapping[str, str]) -> JSON:
    require_app(token)
    conduit_id = query.get("conduit_id")
    if not conduit_id:
        raise bad_request("missing required parameter: conduit_id")
    conduit = _owned(state, token, conduit_id)
    found = [s for s in conduit.shards if not query.get("status") or s.status == query["status"]]
    start = 0
    if query.get("after"):
        if not query["after"].isdigit():
            raise bad_request(f"invalid cursor {query['after']!r}")
        start = int(query["after"])
    size = state.config.page_size
    page = found[start : start + size]
    pagination: JSON = {"cursor": str(start + size)} if start + size < len(found) else {}
    return {"data": [s.to_json() for s in page], "pagination": pagination}


def _bind(state: SimulatorState, conduit: Conduit, item: Any) -> Shard:
    """Point one shard at a transport, or raise the per-shard error (as a TwitchProblem)."""
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        raise bad_request("each shard needs a string id")
    if not item["id"].isdigit() or int(item["id"]) >= conduit.shard_count:
        raise bad_request("The shard id is outside of the conduit's range")
    shard = conduit.shards[int(item["id"])]
    transport = item.get("transport")
    if not isinstance(transport, dict):
        raise bad_request("transport is required")
    method = transport.get("method")
    if method == "websocket":
        session = state.sessions.get(transport.get("session_id") or "")
        if session is None or not session.live:
            raise bad_request("The websocket session is not connected")
        if session.owner is not None:
            raise bad_request("The websocket session already has websocket subscriptions")
        _unbind_session(state, session.id)
        shard.method, shard.session_id, shard.callback = "websocket", session.id, None
        shard.status = "enabled"
        shard.connected_at = session.connected_at
        shard.disconnected_at = None
        session.shard = (conduit.id, shard.id)
        session.used = True
    elif method == "webhook":
        callback, secret = transport.get("callback"), transport.get("secret")
        if not isinstance(callback, str) or not callback_allowed(callback):
            raise bad_request("The callback must be an https URL on port 443")
        if not isinstance(secret, str) or not 10 <= len(secret) <= 100:
            raise bad_request("The secret must be 10-100 characters")
        _release_shard(state, shard)
        shard.method, shard.session_id, shard.callback = "webhook", None, callback
        shard.secret, shard.webhook_failures = secret, 0
        shard.status = "webhook_callback_verification_pending"
    else:
        raise bad_request(f"invalid transport method {method!r}")
    conduit.all_disabled_since = None if shard.enabled else conduit.all_disabled_since
    return shard


def _release_shard(state: SimulatorState, shard: Shard) -> None:
    session = state.sessions.get(shard.session_id or "")
    if session is not None:
        session.shard = None


def _unbind_session(state: SimulatorState, session_id: str) -> None:
    """A session serves one shard at a time: moving it leaves the old shard disconnected."""
    session = state.sessions[session_id]
    if session.shard is None:
        return
    conduit = state.conduits.get(session.shard[0])
    if conduit is not None and int(session.shard[1]) < conduit.shard_count:
        old = conduit.shards[int(session.shard[1])]
        if old.session_id == session_id:
            old.status = "websocket_disconnected"
            old.session_id = None
    session.shard = None


def update_shards(state: SimulatorState, token: Token, body: Any) -> JSON:
    """PATCH shards: 202 with the bound shards in ``data`` and per-shard ``errors``."""
    require_app(token)
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    conduit_id = body.get("conduit_id")
    if not isinstance(conduit_id, str) or not conduit_id:
        raise bad_request("missing required parameter: conduit_id")
    conduit = _owned(state, token, conduit_id)
    items = body.get("shards")
    if not isinstance(items, list) or not items:
        raise bad_request("shards must be a non-empty list")
    data, errors = [], []
    for item in items:
        try:
            data.append(_bind(state, conduit, item).to_json())
        except TwitchProblem as problem:
            shard_id = item.get("id") if isinstance(item, dict) else None
            errors.append({"id": shard_id, "message": problem.message, "code": ""})
    return {"data": data, "errors": errors}


def expire_idle(state: SimulatorState, now: float) -> list[Subscription]:
    """Conduits whose shards have all been disabled for 72 h are deleted."""
    lifetime = state.seconds(state.config.conduit_idle_lifetime)
    idle = [
        c.id
        for c in state.conduits.values()
        if c.all_disabled_since is not None and now - c.all_disabled_since >= lifetime
    ]
    disabled: list[Subscription] = []
    for conduit_id in idle:
        disabled.extend(remove(state, conduit_id, now))
    return disabled
