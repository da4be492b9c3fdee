"""The hub's own records in the database: ``hub_state`` (key -> JSON value, e.g. last reconcile
time and counters) and the ``audit_log``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiss.store.models import AuditEntry, HubState, utcnow

LAST_RECONCILE = "last_reconcile"
COUNTERS = "counters"


def get_state(session: Session, key: str, default: Any = None) -> Any:
    row = session.get(HubState, key)
    return default if row is None else orjson.loads(row.value)


def set_state(session: Session, key: str, value: Any) -> None:
    encoded = orjson.dumps(value).decode()
    row = session.get(HubState, key)
    if row is None:
        session.add(HubState(key=key, value=encoded))
    else:
        row.value = encoded


def bump_counters(session: Session, **increments: int) -> dict[str, int]:
    counters: dict[str, int] = dict(get_state(session, COUNTERS, {}))
    for name, amount in increments.items():
        counters[name] = counters.get(name, 0) + amount
    set_state(session, COUNTERS, counters)
    return counters


def counters(session: Session) -> dict[str, int]:
    return dict(get_state(session, COUNTERS, {}))


def last_reconcile(session: Session) -> dict[str, Any] | None:
    """``{"at", "outcome", ...}`` of the last reconciliation, or None."""
    value = get_state(session, LAST_RECONCILE)
    return dict(value) if value else None


def audit(
    session: Session,
    action: str,
    *,
    channel_id: str = "",
    type: str = "",
    version: str = "",
    subscription_id: str = "",
    status: int | None = None,
    message: str = "",
    at: datetime | None = None,
) -> None:
    session.add(
        AuditEntry(
            at=at or utcnow(),
            action=action,
            channel_id=channel_id,
            type=type,
            version=version,
            subscription_id=subscription_id,
            status=status,
            message=message,
        )
    )


def recent_audit(
    session: Session, limit: int = 50, channel_id: str | None = None
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if channel_id is not None:
        query = query.where(AuditEntry.channel_id == channel_id)
    return list(session.scalars(query))
