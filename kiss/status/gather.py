"""The read model: one ``HubStatus`` from Redis (live state) and the store (desired and active).

Redis tells what runs now (heartbeats with a TTL, listener state, shard leases, bot
presence, counters, the drain flag); the database tells what should exist and what Twitch
confirmed. Both clients are passed in; nothing here opens a connection.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
import redis
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiss.keys import Keys
from kiss.listener.health import RECONNECTS_OF
from kiss.listener.leases import lease_holder
from kiss.locks import read_holder
from kiss.status.model import (
    BotStatus,
    ChannelStatus,
    HubStatus,
    ListenerStatus,
    MissingSubscription,
    ShardStatus,
    SubscriptionRow,
)
from kiss.store import hub_state
from kiss.store.models import ActiveSubscription, Channel, DesiredSubscription

ACTIVE_STATE = "active"
ENABLED = "enabled"


def _epoch(value: Any) -> float | None:
    """Epoch seconds from a number, a numeric string or an ISO-8601 string."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except ValueError:
        return datetime.fromisoformat(str(value)).timestamp()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _hash(client: redis.Redis, key: str) -> dict[str, str]:
    return {_text(name): _text(value) for name, value in client.hgetall(key).items()}


def _members(client: redis.Redis, key: str) -> set[str]:
    return {_text(member) for member in client.smembers(key)}


def _heartbeats(client: redis.Redis, keys: Keys) -> set[str]:
    """Names of the processes whose heartbeat key has not expired."""
    prefix = keys.heartbeat("")
    found = client.scan_iter(match=keys.heartbeat_pattern())
    return {_text(key).removeprefix(prefix) for key in found}


def _listener_alive(listener_id: str, beating: set[str]) -> bool:
    return any(name == listener_id or name.endswith(f":{listener_id}") for name in beating)


def _listeners(client: redis.Redis, keys: Keys, beating: set[str]) -> list[ListenerStatus]:
    sessions: Counter[str] = Counter()
    for raw in client.hvals(keys.ws_sessions()):
        sessions[str(orjson.loads(raw).get("listener", ""))] += 1
    listeners = []
    for listener_id in sorted(_members(client, keys.listeners())):
        fields = _hash(client, keys.listener_state(listener_id))
        alive = _listener_alive(listener_id, beating)
        shards = tuple(s for s in fields.get("shards", "").split(",") if s)
        listeners.append(
            ListenerStatus(
                listener_id=listener_id,
                alive=alive,
                state=fields.get("state", "unknown") if alive else "gone (no heartbeat)",
                sessions=sessions[listener_id],
                shards=shards,
                problems=fields.get("problems", "") if alive else "",
            )
        )
    return listeners


def _shards(client: redis.Redis, keys: Keys) -> tuple[str | None, list[ShardStatus]]:
    conduit = _hash(client, keys.conduit())
    conduit_id = conduit.get("id") or None
    if conduit_id is None:
        return None, []
    count = int(conduit.get("shard_count") or 0)
    ids = [str(index) for index in range(count)]
    holders = client.mget([keys.shard_lease(conduit_id, shard) for shard in ids]) if ids else []
    return conduit_id, [
        ShardStatus(shard, lease_holder(holder)) for shard, holder in zip(ids, holders, strict=True)
    ]


def _bots(client: redis.Redis, keys: Keys) -> list[dict[str, str]]:
    found = []
    for key in client.scan_iter(match=keys.bot_presence_pattern()):
        if _text(client.type(key)) == "hash":
            fields = _hash(client, _text(key))
            if fields:
                found.append(fields)
    return found


def _bot_status(fields: dict[str, str]) -> BotStatus:
    lag = fields.get("lag", "")
    state = fields.get("state", "running")
    return BotStatus(
        bot=fields.get("bot", "?"),
        state=state,
        alive=state not in {"stopped", "stopping"},
        lag=int(lag) if lag else None,
        pending=int(fields.get("pending") or 0),
        last_seen=_epoch(fields.get("last_seen")),
    )


def _channels(
    client: redis.Redis, keys: Keys, session: Session, bots: Iterable[dict[str, str]]
) -> list[ChannelStatus]:
    desired = dict(
        session.execute(
            select(DesiredSubscription.channel_id, func.count()).group_by(
                DesiredSubscription.channel_id
            )
        ).all()
    )
    active = dict(
        session.execute(
            select(ActiveSubscription.channel_id, func.count())
            .where(ActiveSubscription.status == ENABLED)
            .group_by(ActiveSubscription.channel_id)
        ).all()
    )
    names = {row.channel_id: row.login for row in session.scalars(select(Channel))}
    by_channel: dict[str, list[BotStatus]] = {}
    for fields in bots:
        channel_id = fields.get("channel_id", "")
        by_channel.setdefault(channel_id, []).append(_bot_status(fields))
        names.setdefault(channel_id, fields.get("channel_name", ""))
        if not names[channel_id]:
            names[channel_id] = fields.get("channel_name", "")
    ids = set(desired) | set(by_channel) | _members(client, keys.channels())
    return [
        ChannelStatus(
            channel_id=channel_id,
            name=names.get(channel_id, ""),
            desired=int(desired.get(channel_id, 0)),
            active=int(active.get(channel_id, 0)),
            bots=tuple(sorted(by_channel.get(channel_id, []), key=lambda bot: bot.bot)),
        )
        for channel_id in sorted(ids)
    ]


def gather_counters(client: redis.Redis, keys: Keys, session: Session) -> dict[str, int]:
    """The listener's counters (Redis) and the control plane's (store), in one mapping."""
    counters = {name: int(value) for name, value in _hash(client, keys.counters()).items()}
    for name, value in hub_state.counters(session).items():
        counters[name] = counters.get(name, 0) + int(value)
    return counters


def gather_reconnects(client: redis.Redis, keys: Keys) -> dict[str, dict[str, int]]:
    """Per listener: its reconnects in all (``total``) and per slot (a conduit shard or a
    websocket session), as its state reports them; listeners that never reconnected too."""
    found: dict[str, dict[str, int]] = {}
    for listener_id in sorted(_members(client, keys.listeners())):
        fields = _hash(client, keys.listener_state(listener_id))
        counts = {"total": int(fields.get("reconnects") or 0)}
        for name, value in sorted(fields.items()):
            if name.startswith(RECONNECTS_OF):
                counts[name.removeprefix(RECONNECTS_OF)] = int(value)
        found[listener_id] = counts
    return found


def gather_status(
    client: redis.Redis, keys: Keys, session: Session, *, transport: str, now: float
) -> HubStatus:
    beating = _heartbeats(client, keys)
    conduit_id, shards = _shards(client, keys)
    missing = [
        MissingSubscription(row.channel_id, row.type, row.version, row.state, row.reason)
        for row in session.scalars(
            select(DesiredSubscription)
            .where(DesiredSubscription.state != ACTIVE_STATE)
            .order_by(DesiredSubscription.channel_id, DesiredSubscription.type)
        )
    ]
    last = hub_state.last_reconcile(session) or {}
    return HubStatus(
        now=now,
        transport=transport,
        draining=bool(client.exists(keys.drain())),
        listeners=tuple(_listeners(client, keys, beating)),
        conduit_id=conduit_id,
        shards=tuple(shards) if transport == "conduit" else (),
        desired=session.scalar(select(func.count()).select_from(DesiredSubscription)) or 0,
        active=session.scalar(
            select(func.count())
            .select_from(ActiveSubscription)
            .where(ActiveSubscription.status == ENABLED)
        )
        or 0,
        missing=tuple(missing),
        last_reconcile_at=_epoch(last.get("at")),
        last_reconcile_outcome=str(last.get("outcome", "")),
        counters=gather_counters(client, keys, session),
        channels=tuple(_channels(client, keys, session, _bots(client, keys))),
        processes={name: True for name in sorted(beating)},
        reconcile_holder=_reconcile_holder(client, keys),
    )


def _reconcile_holder(client: redis.Redis, keys: Keys) -> str:
    """Who holds the reconcile lock now, or ""."""
    holder = read_holder(client, keys.reconcile_lock())
    return holder.describe() if holder is not None else ""


def list_subscriptions(
    session: Session,
    *,
    channel_id: str | None = None,
    type: str | None = None,
    state: str | None = None,
) -> list[SubscriptionRow]:
    """Desired subscriptions, filtered, with where placing each one stands."""
    query = select(DesiredSubscription).order_by(
        DesiredSubscription.channel_id, DesiredSubscription.type, DesiredSubscription.id
    )
    if channel_id:
        query = query.where(DesiredSubscription.channel_id == channel_id)
    if type:
        query = query.where(DesiredSubscription.type == type)
    if state:
        query = query.where(DesiredSubscription.state == state)
    return [
        SubscriptionRow(
            channel_id=row.channel_id,
            type=row.type,
            version=row.version,
            condition=row.condition,
            state=row.state,
            reason=row.reason,
            subscription_id=row.subscription_id or "",
            requested_by=row.requested_by,
        )
        for row in session.scalars(query)
    ]
