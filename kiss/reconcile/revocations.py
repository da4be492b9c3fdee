"""Revocations the listener reports: each stops a subscription's retries and shows its reason."""

from __future__ import annotations

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiss.contracts.bot_requests import REVOKED
from kiss.keys import Keys
from kiss.reconcile.outcomes import append_outcome
from kiss.store import hub_state
from kiss.store import subscriptions as store
from kiss.store.models import DesiredSubscription


def record_revocation(
    session: Session,
    redis_client: redis.Redis,
    keys: Keys,
    *,
    subscription_id: str,
    channel_id: str,
    type: str,
    version: str,
    reason: str,
) -> int:
    """Mark the subscription revoked (active and desired); the number of desired rows hit."""
    active = store.mark_active_status(session, subscription_id, reason or "revoked")
    query = select(DesiredSubscription).where(
        DesiredSubscription.subscription_id == subscription_id
    )
    rows = list(session.scalars(query))
    if not rows and active is not None:
        rows = list(
            session.scalars(
                select(DesiredSubscription).where(
                    DesiredSubscription.type == active.type,
                    DesiredSubscription.version == active.version,
                    DesiredSubscription.condition == active.condition,
                )
            )
        )
    for row in rows:
        row.state, row.reason, row.next_attempt_at = "revoked", reason, None
    hub_state.audit(
        session,
        "revoked",
        channel_id=channel_id,
        type=type,
        version=version,
        subscription_id=subscription_id,
        message=reason,
    )
    hub_state.bump_counters(session, revocations=1)
    session.commit()
    append_outcome(
        redis_client,
        keys,
        channel_id,
        type=type,
        version=version,
        status=REVOKED,
        reason=reason,
        subscription_id=subscription_id,
    )
    return len(rows)
