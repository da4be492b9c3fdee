"""Recording what a reconciliation did: desired rows, the active mirror, the audit log,
the per-channel outcome streams bots await, hub_state and the Prometheus metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy.orm import Session

from kiss.backoff import nth_delay
from kiss.contracts.bot_requests import ACTIVE, FAILED, REMOVED, Status, encode_outcome
from kiss.errors import HelixError, KissError, QuotaExceeded, TokenError, is_retryable
from kiss.eventsub import catalog
from kiss.helix import subscriptions as helix_subs
from kiss.keys import Keys
from kiss.reconcile import metrics
from kiss.reconcile.plan import Active, Create, Delete, Unplaced, condition_of
from kiss.store import hub_state
from kiss.store import subscriptions as store
from kiss.store.models import DesiredSubscription

OUTCOMES_MAXLEN = 1000
RETRY_CAP_SECONDS = 300.0


@dataclass
class Report:
    outcome: str = "done"  # done | skipped: drain | stopped: lost the lock
    created: int = 0
    adopted: int = 0
    deleted: int = 0
    failed: int = 0
    retrying: int = 0
    waiting: int = 0
    kept: int = 0
    next_retry_at: float | None = None
    listings: int = 0  # Gets of one type made to resolve 409s (one per type and token)
    errors: list[str] = field(default_factory=list)

    def create_attempted(self) -> bool:
        """True when this run tried to create something (so another run may place more)."""
        return bool(self.created or self.adopted or self.retrying)

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "created": self.created,
            "adopted": self.adopted,
            "deleted": self.deleted,
            "failed": self.failed,
            "retrying": self.retrying,
            "waiting": self.waiting,
            "kept": self.kept,
            "conflict_listings": self.listings,
            "next_retry_at": self.next_retry_at,
        }


def append_outcome(
    redis_client: redis.Redis,
    keys: Keys,
    channel_id: str,
    *,
    type: str,
    version: str,
    status: Status,
    reason: str = "",
    subscription_id: str = "",
) -> None:
    """Tell the channel's bots what became of a subscription: one entry on
    ``Keys.subscription_outcomes(channel_id)`` (kiss/contracts/bot_requests.py), the one
    writer of that stream's entries."""
    if not channel_id:
        return
    fields = encode_outcome(
        type=type, version=version, status=status, reason=reason, subscription_id=subscription_id
    )
    redis_client.xadd(
        keys.subscription_outcomes(channel_id),
        fields,  # type: ignore[arg-type]
        maxlen=OUTCOMES_MAXLEN,
        approximate=True,
    )


def _worth_retrying(error: object) -> bool:
    """What ``is_retryable`` says, and a token error: a refresh or a new login may fix it
    (tried again no sooner than the next interval)."""
    if isinstance(error, TokenError):
        return True
    return isinstance(error, BaseException) and is_retryable(error)


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class Recorder:
    def __init__(
        self,
        redis_client: redis.Redis,
        keys: Keys,
        *,
        reconcile_interval: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis_client
        self._keys = keys
        self._interval = reconcile_interval
        self._clock = clock

    def _outcome(
        self,
        channel_id: str,
        type_: str,
        version: str,
        status: Status,
        reason: str = "",
        subscription_id: str = "",
    ) -> None:
        append_outcome(
            self._redis, self._keys, channel_id, type=type_, version=version, status=status,
            reason=reason, subscription_id=subscription_id,
        )  # fmt: skip

    def created(
        self,
        session: Session,
        row: DesiredSubscription | None,
        create: Create,
        result: Any,
        report: Report,
    ) -> None:
        want = create.desired
        base = {"type": want.type, "version": want.version}
        if isinstance(result, helix_subs.Created):
            sub = result.subscription
            store.upsert_active(session, sub, user_id=create.user_id)
            if row is not None:
                row.state, row.reason, row.subscription_id = "active", "", sub.id
                row.attempts, row.next_attempt_at = 0, None
            action = "adopt" if result.adopted else "create"
            hub_state.audit(
                session,
                action,
                channel_id=want.channel_id,
                type=want.type,
                version=want.version,
                subscription_id=sub.id,
                status=202,
            )
            session.commit()
            self._outcome(want.channel_id, want.type, want.version, ACTIVE, subscription_id=sub.id)
            metrics.CHANGES.labels(action).inc()
            if result.adopted:
                report.adopted += 1
            else:
                report.created += 1
            return
        self._create_failed(session, row, want.channel_id, base, result, report)

    def _create_failed(
        self,
        session: Session,
        row: DesiredSubscription | None,
        channel_id: str,
        base: dict[str, str],
        error: Any,
        report: Report,
    ) -> None:
        now = self._clock()
        status = error.status if isinstance(error, HelixError) else None
        message = error.message if isinstance(error, HelixError) else str(error)
        retry_at: float | None
        if _worth_retrying(error) or not isinstance(error, KissError):  # or unexpected
            attempts = (row.attempts if row else 0) + 1
            delay = nth_delay(attempts, 2.0, RETRY_CAP_SECONDS, min_share=0.5)
            if isinstance(error, TokenError):
                delay = max(delay, self._interval)
            retry_at, new_state = now + delay, "retrying"
            report.retrying += 1
            report.next_retry_at = min(report.next_retry_at or retry_at, retry_at)
        elif isinstance(error, QuotaExceeded):
            # A placement failure: checked again after a while, never in a tight loop.
            attempts, retry_at, new_state = 1, now + 10 * self._interval, "failed"
            report.failed += 1
        else:  # 400, 403, 410, malformed answer...: Twitch will say the same again
            attempts, retry_at, new_state = 1, None, "failed"
            report.failed += 1
        if row is not None:
            row.state, row.reason, row.attempts = new_state, message, attempts
            row.next_attempt_at = None if retry_at is None else _utc(retry_at)
        hub_state.audit(
            session,
            "failure",
            channel_id=channel_id,
            type=base["type"],
            version=base["version"],
            status=status,
            message=message,
        )
        session.commit()
        metrics.CHANGES.labels("failure").inc()
        report.errors.append(message)
        if new_state == "failed":
            self._outcome(channel_id, base["type"], base["version"], FAILED, message)

    def deleted(self, session: Session, delete: Delete, result: Any, report: Report) -> None:
        active = delete.active
        channel_id = _channel_of(active)
        if isinstance(result, bool):
            store.delete_active(session, active.id)
            hub_state.audit(
                session,
                "delete",
                channel_id=channel_id,
                type=active.type,
                version=active.version,
                subscription_id=active.id,
                status=204 if result else 404,
                message=delete.reason,
            )
            session.commit()
            report.deleted += 1
            metrics.CHANGES.labels("delete").inc()
            if not delete.stale:
                self._outcome(
                    channel_id, active.type, active.version, REMOVED, delete.reason, active.id
                )
            return
        message = result.message if isinstance(result, HelixError) else str(result)
        hub_state.audit(
            session,
            "failure",
            channel_id=channel_id,
            type=active.type,
            version=active.version,
            subscription_id=active.id,
            status=getattr(result, "status", None),
            message=f"delete: {message}",
        )
        session.commit()
        report.errors.append(message)
        if _worth_retrying(result):
            retry_at = self._clock() + self._interval
            report.next_retry_at = min(report.next_retry_at or retry_at, retry_at)

    def unplaced(
        self,
        session: Session,
        row: DesiredSubscription | None,
        unplaced: Unplaced,
        report: Report,
    ) -> None:
        if unplaced.waiting:
            report.waiting += 1
            if (
                row is not None
                and row.state in ("pending", "active")
                and row.reason != unplaced.reason
            ):
                row.state, row.reason = "pending", unplaced.reason
            return
        report.failed += 1
        if row is None or (row.state in ("failed", "revoked") and row.reason):
            return  # already recorded; do not repeat the audit every beat
        want = unplaced.desired
        row.state, row.reason, row.next_attempt_at = "failed", unplaced.reason, None
        hub_state.audit(
            session,
            "failure",
            channel_id=want.channel_id,
            type=want.type,
            version=want.version,
            message=f"cannot place: {unplaced.reason}",
        )
        self._outcome(want.channel_id, want.type, want.version, FAILED, unplaced.reason)

    def finish(self, session: Session, report: Report, started: float) -> None:
        finished = self._clock()
        summary = {**report.as_dict(), "at": finished, "seconds": round(finished - started, 3)}
        hub_state.set_state(session, hub_state.LAST_RECONCILE, summary)
        if report.outcome == "done":
            hub_state.bump_counters(
                session,
                reconciliations=1,
                created=report.created,
                deleted=report.deleted,
                failures=len(report.errors),
            )
        else:
            hub_state.bump_counters(session, reconciliations_skipped=1)
        metrics.RECONCILES.labels(report.outcome).inc()
        metrics.RECONCILE_SECONDS.observe(finished - started)
        metrics.SUBSCRIPTIONS.labels("active").set(report.kept + report.created + report.adopted)
        metrics.SUBSCRIPTIONS.labels("failed").set(report.failed)
        metrics.SUBSCRIPTIONS.labels("waiting").set(report.waiting)


def _channel_of(active: Active) -> str:
    return catalog.channel_of(active.type, active.version, condition_of(active)) or ""
