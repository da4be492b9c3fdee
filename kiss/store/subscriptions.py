"""Desired and active subscriptions: what bots asked for, and what Twitch has.

Desired ``state``: ``pending`` (not placed yet; ``reason`` says why when it waits),
``active`` (placed, ``subscription_id``), ``retrying`` (transient failure, ``next_attempt_at``),
``failed`` (permanent or quota failure with Twitch's message), ``revoked`` (Twitch revoked it:
no more retries until a bot asks again).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from kiss.eventsub import catalog
from kiss.helix.records import TwitchSubscription as TwitchSubscription  # stored here
from kiss.helix.records import canonical as canonical
from kiss.store.models import ActiveSubscription, Channel, DesiredSubscription, StoredToken, utcnow

TRANSPORTS = ("conduit", "websocket")
STATES = ("pending", "active", "retrying", "failed", "revoked")


def ensure_channel(session: Session, channel_id: str, login: str = "") -> Channel:
    channel = session.get(Channel, channel_id)
    if channel is None:
        channel = Channel(channel_id=channel_id, login=login)
        session.add(channel)
    elif login and channel.login != login:
        channel.login = login
    return channel


def add_desired(
    session: Session,
    *,
    channel_id: str,
    type: str,
    version: str,
    condition: Mapping[str, Any],
    transport: str,
    requested_by: str,
    channel_login: str = "",
) -> DesiredSubscription:
    """Record (or re-arm) a desired subscription; UnknownTopic / InvalidCondition on bad input."""
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, got {transport!r}")
    topic = catalog.lookup(type, version)
    if transport not in topic.transports:
        raise ValueError(f"{type} v{version} cannot use the {transport} transport")
    cleaned = topic.validate_condition(condition)
    key = canonical(cleaned)
    ensure_channel(session, channel_id, channel_login)
    row = session.scalars(
        select(DesiredSubscription).where(
            DesiredSubscription.channel_id == channel_id,
            DesiredSubscription.type == type,
            DesiredSubscription.version == version,
            DesiredSubscription.condition == key,
        )
    ).first()
    if row is None:
        row = DesiredSubscription(
            channel_id=channel_id,
            type=type,
            version=version,
            condition=key,
            transport=transport,
            requested_by=requested_by,
            state="pending",
            reason="",
            attempts=0,
        )
        session.add(row)
    else:
        row.transport = transport
        row.requested_by = requested_by
        if row.state in ("failed", "revoked", "retrying"):
            # Asked again: a fresh start, the old failure no longer blocks it.
            row.state, row.reason, row.attempts, row.next_attempt_at = "pending", "", 0, None
    session.flush()
    return row


def remove_desired(
    session: Session, *, channel_id: str, type: str, version: str, condition: Mapping[str, Any]
) -> bool:
    """Forget a desired subscription; the next reconcile deletes it on Twitch."""
    result = session.execute(
        delete(DesiredSubscription).where(
            DesiredSubscription.channel_id == channel_id,
            DesiredSubscription.type == type,
            DesiredSubscription.version == version,
            DesiredSubscription.condition == canonical(condition),
        )
    )
    return bool(getattr(result, "rowcount", 0))


def rearm_failed(session: Session, user_id: str) -> int:
    """After a new token of ``user_id``: its failed subscriptions get another try."""
    needle = f'"{user_id}"'
    rows = session.scalars(
        select(DesiredSubscription).where(
            DesiredSubscription.state.in_(("failed", "retrying")),
            DesiredSubscription.condition.contains(needle),
        )
    )
    count = 0
    for row in rows:
        row.state, row.reason, row.attempts, row.next_attempt_at = "pending", "", 0, None
        count += 1
    return count


def list_desired(session: Session, channel_id: str | None = None) -> list[DesiredSubscription]:
    query = select(DesiredSubscription).order_by(DesiredSubscription.id)
    if channel_id is not None:
        query = query.where(DesiredSubscription.channel_id == channel_id)
    return list(session.scalars(query))


def list_active(session: Session, channel_id: str | None = None) -> list[ActiveSubscription]:
    query = select(ActiveSubscription).order_by(ActiveSubscription.created_at)
    if channel_id is not None:
        query = query.where(ActiveSubscription.channel_id == channel_id)
    return list(session.scalars(query))


def channel_scopes(session: Session, user_id: str) -> frozenset[str]:
    """Scopes this user granted the hub's client id (from their stored, valid token)."""
    token = session.scalars(
        select(StoredToken).where(
            StoredToken.kind == "user",
            StoredToken.user_id == user_id,
            StoredToken.status == "valid",
        )
    ).first()
    return frozenset(token.scopes.split()) if token else frozenset()


def upsert_active(
    session: Session, sub: TwitchSubscription, *, user_id: str | None = None
) -> ActiveSubscription:
    row = session.get(ActiveSubscription, sub.id)
    now = utcnow()
    if row is None:
        row = ActiveSubscription(twitch_id=sub.id, created_at=sub.created_at or now)
        session.add(row)
    row.channel_id = sub.channel_id
    row.type = sub.type
    row.version = sub.version
    row.condition = canonical(sub.condition)
    row.status = sub.status
    row.cost = sub.cost
    row.method = sub.method
    row.session_id = sub.session_id
    row.conduit_id = sub.conduit_id
    if user_id is not None:
        row.user_id = user_id
    row.seen_at = now
    return row


def delete_active(session: Session, twitch_id: str) -> None:
    session.execute(delete(ActiveSubscription).where(ActiveSubscription.twitch_id == twitch_id))


def replace_active(
    session: Session,
    subs: Iterable[tuple[TwitchSubscription, str | None]],
    listed_at: datetime | None = None,
) -> int:
    """Make the table Twitch's list (a resync); returns how many rows it holds.

    Rows written after ``listed_at`` (a revocation recorded, a subscription created while the
    listing was under way) are newer than the list: they stay as they are. Overwritten, a
    revoked subscription listed as enabled a moment before would count as live again.
    """
    newer = {
        row.twitch_id
        for row in list_active(session)
        if listed_at is not None and _as_utc(row.seen_at) > _as_utc(listed_at)
    }
    keep: set[str] = set()
    for sub, user_id in subs:
        if sub.id not in newer:
            upsert_active(session, sub, user_id=user_id)
        keep.add(sub.id)
    for row in list_active(session):
        if row.twitch_id not in keep and row.twitch_id not in newer:
            session.delete(row)
    return len(keep | newer)


def _as_utc(moment: datetime) -> datetime:
    """SQLite hands datetimes back without their zone: they were written in UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def mark_active_status(session: Session, twitch_id: str, status: str) -> ActiveSubscription | None:
    row = session.get(ActiveSubscription, twitch_id)
    if row is not None:
        row.status = status
        row.seen_at = utcnow()
    return row


# -- read API for status and the CLI -------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    channel_id: str
    login: str
    desired: int
    active: int
    failed: int
    revoked: int


def channel_statuses(session: Session) -> list[ChannelStatus]:
    """Desired vs active per channel, with failures and revocations counted."""
    desired_counts: dict[str, dict[str, int]] = {}
    for channel_id, state, count in session.execute(
        select(DesiredSubscription.channel_id, DesiredSubscription.state, func.count()).group_by(
            DesiredSubscription.channel_id, DesiredSubscription.state
        )
    ):
        desired_counts.setdefault(channel_id, {})[state] = count
    active_counts = dict(
        session.execute(
            select(ActiveSubscription.channel_id, func.count())
            .where(ActiveSubscription.status == "enabled")
            .group_by(ActiveSubscription.channel_id)
        ).all()
    )
    logins = dict(session.execute(select(Channel.channel_id, Channel.login)).all())
    statuses = []
    for channel_id in sorted(set(desired_counts) | set(active_counts)):
        states = desired_counts.get(channel_id, {})
        statuses.append(
            ChannelStatus(
                channel_id=channel_id,
                login=logins.get(channel_id, ""),
                desired=sum(states.values()),
                active=active_counts.get(channel_id, 0),
                failed=states.get("failed", 0) + states.get("retrying", 0),
                revoked=states.get("revoked", 0),
            )
        )
    return statuses


def failures(session: Session) -> list[DesiredSubscription]:
    """Desired subscriptions that are failed, retrying or revoked, with their reasons."""
    return list(
        session.scalars(
            select(DesiredSubscription)
            .where(DesiredSubscription.state.in_(("failed", "retrying", "revoked")))
            .order_by(DesiredSubscription.channel_id, DesiredSubscription.type)
        )
    )
