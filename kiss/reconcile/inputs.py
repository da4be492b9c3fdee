"""What the planner needs, read from the store and Redis (columns, not ORM objects: fast)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiss.keys import Keys
from kiss.reconcile.plan import Active, Desired, Limits
from kiss.store import hub_state
from kiss.store.models import ActiveSubscription, DesiredSubscription, StoredToken

APP_MAX_TOTAL_COST = "app_max_total_cost"


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def load_desired(session: Session) -> list[Desired]:
    d = DesiredSubscription
    rows = session.execute(
        select(
            d.id,
            d.channel_id,
            d.type,
            d.version,
            d.condition,
            d.transport,
            d.state,
            d.next_attempt_at,
        ).order_by(d.id)
    )
    return [Desired(r[0], r[1], r[2], r[3], r[4], r[5], r[6], _epoch(r[7])) for r in rows]


def load_active(session: Session) -> list[Active]:
    a = ActiveSubscription
    rows = session.execute(
        select(
            a.twitch_id,
            a.type,
            a.version,
            a.condition,
            a.status,
            a.cost,
            a.method,
            a.session_id,
            a.conduit_id,
        ).order_by(a.created_at)
    )
    return [Active(*row) for row in rows]


def welcomed_sessions(client: redis.Redis, keys: Keys) -> dict[str, str]:
    """Session id -> user id of the websocket sessions the listeners hold now."""
    sessions: dict[str, str] = {}
    for raw_id, raw in client.hgetall(keys.ws_sessions()).items():
        session_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
        try:
            user_id = orjson.loads(raw).get("user_id")
        except (orjson.JSONDecodeError, AttributeError):
            continue
        if isinstance(user_id, str) and user_id:
            sessions[session_id] = user_id
    return sessions


def conduit_id(client: redis.Redis, keys: Keys) -> str | None:
    value = client.hget(keys.conduit(), "id")
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def load_limits(session: Session, client: redis.Redis, keys: Keys, now: float) -> Limits:
    scopes: dict[str, frozenset[str]] = {}
    invalid: dict[str, str] = {}
    t = StoredToken
    for user_id, granted, status, reason in session.execute(
        select(t.user_id, t.scopes, t.status, t.reason).where(t.kind == "user")
    ):
        if status == "valid":
            scopes[user_id] = frozenset(granted.split())
        else:
            invalid[user_id] = reason or "invalid"
    return Limits(
        now=now,
        conduit_id=conduit_id(client, keys),
        sessions=welcomed_sessions(client, keys),
        scopes=scopes,
        invalid_users=invalid,
        app_max_total_cost=int(hub_state.get_state(session, APP_MAX_TOTAL_COST, 10_000)),
    )
