"""Apply a plan on Twitch under the shared rate limiter, and record every outcome.

Order: orphan deletes first (they free budget), then creates, then deletes of subscriptions
that are already dead on Twitch. Helix calls run on a small thread pool (the Redis bucket
paces them); all database writes stay on the calling thread.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kiss.auth.provider import Token
from kiss.errors import (
    HelixError,
    KissError,
    QuotaExceeded,
    TokenError,
    TransientHelixError,
)
from kiss.eventsub.messages import channel_of
from kiss.helix import subscriptions as helix_subs
from kiss.helix.client import HelixClient
from kiss.keys import Keys
from kiss.reconcile import inputs, metrics
from kiss.reconcile.plan import Active, Create, Delete, Plan, Unplaced, condition_of, plan
from kiss.store import state
from kiss.store import subscriptions as store
from kiss.store.models import ActiveSubscription, DesiredSubscription

log = logging.getLogger(__name__)

T = TypeVar("T")
OUTCOMES_MAXLEN = 1000
RETRY_CAP_SECONDS = 300.0


@dataclass
class Report:
    outcome: str = "done"  # done | skipped: drain
    created: int = 0
    adopted: int = 0
    deleted: int = 0
    failed: int = 0
    retrying: int = 0
    waiting: int = 0
    kept: int = 0
    next_retry_at: float | None = None
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
            "next_retry_at": self.next_retry_at,
        }


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class Reconciler:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        redis_client: redis.Redis,
        keys: Keys,
        helix: HelixClient,
        *,
        reconcile_interval: float = 60.0,
        concurrency: int = 8,
        clock: Callable[[], float] = time.time,
        heartbeat: Callable[[], object] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._redis = redis_client
        self._keys = keys
        self._helix = helix
        self._interval = reconcile_interval
        self._concurrency = concurrency
        self._clock = clock
        self._heartbeat = heartbeat

    # -- entry points -------------------------------------------------------------
    def reconcile(self, *, resync: bool = False) -> Report:
        started = self._clock()
        if self._redis.exists(self._keys.drain()):
            report = Report(outcome="skipped: drain")
            with self._sessions.begin() as session:
                self._finish(session, report, started)
            return report
        if resync:
            self.resync()
        with self._sessions() as session:
            now = self._clock()
            desired = inputs.load_desired(session)
            active = inputs.load_active(session)
            limits = inputs.load_limits(session, self._redis, self._keys, now)
            session.rollback()
        the_plan = plan(desired, active, limits)
        report = Report(kept=len(the_plan.keep))
        metrics.SUBSCRIPTIONS.labels("desired").set(len(desired))
        with self._sessions() as session:
            self._apply(session, the_plan, report)
            self._finish(session, report, started)
            session.commit()
        return report

    def resync(self) -> int:
        """Replace the active table with Twitch's whole state (app + each websocket user)."""
        listing = helix_subs.list_all(self._helix, token=Token.app())
        found: list[tuple[store.TwitchSubscription, str | None]] = [
            (sub, None) for sub in listing.subscriptions if sub.method != "websocket"
        ]
        users = set(inputs.welcomed_sessions(self._redis, self._keys).values())
        with self._sessions() as session:
            users |= {
                d.channel_id for d in store.list_desired(session) if d.transport == "websocket"
            }
            users |= {
                row.user_id
                for row in store.list_active(session)
                if row.method == "websocket" and row.user_id
            }
        for user_id in sorted(users):
            try:
                user_listing = helix_subs.list_all(self._helix, token=Token.user(user_id))
            except (TokenError, HelixError) as error:
                log.warning("resync: cannot list websocket subs of user %s: %s", user_id, error)
                continue
            found.extend((sub, user_id) for sub in user_listing.subscriptions)
        with self._sessions.begin() as session:
            count = store.replace_active(session, found)
            if listing.max_total_cost is not None:
                state.set_state(session, inputs.APP_MAX_TOTAL_COST, listing.max_total_cost)
            state.set_state(session, "last_resync", {"at": self._clock(), "subscriptions": count})
            state.bump_counters(session, resyncs=1)
        return count

    # -- applying ----------------------------------------------------------------------
    def _apply(self, session: Session, the_plan: Plan, report: Report) -> None:
        desired_rows = {row.id: row for row in self._rows(session, the_plan)}
        for want, sub in the_plan.keep:
            row = desired_rows.get(want.id)
            if row is not None and (row.state != "active" or row.subscription_id != sub.id):
                row.state, row.reason, row.subscription_id = "active", "", sub.id
                row.attempts, row.next_attempt_at = 0, None
        for unplaced in the_plan.unplaced:
            self._record_unplaced(session, desired_rows.get(unplaced.desired.id), unplaced, report)
        session.commit()
        owners = self._websocket_owners(session, the_plan.delete)
        orphans = [(d, owners.get(d.active.id)) for d in the_plan.delete if not d.stale]
        stale = [(d, owners.get(d.active.id)) for d in the_plan.delete if d.stale]
        with ThreadPoolExecutor(max_workers=self._concurrency) as pool:
            for (delete, _), result in self._run(pool, orphans, self._delete_call):
                self._record_delete(session, delete, result, report)
            for create, result in self._run(pool, the_plan.create, self._create_call):
                self._record_create(
                    session, desired_rows.get(create.desired.id), create, result, report
                )
            for (delete, _), result in self._run(pool, stale, self._delete_call):
                self._record_delete(session, delete, result, report)

    @staticmethod
    def _rows(session: Session, the_plan: Plan) -> Iterable[DesiredSubscription]:
        wanted = {w.id for w, _ in the_plan.keep if w.state != "active"}
        wanted |= {c.desired.id for c in the_plan.create}
        wanted |= {u.desired.id for u in the_plan.unplaced}
        if not wanted:
            return []
        ids = sorted(wanted)
        rows: list[DesiredSubscription] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows.extend(
                session.scalars(
                    select(DesiredSubscription).where(DesiredSubscription.id.in_(chunk))
                )
            )
        return rows

    def _run(
        self, pool: ThreadPoolExecutor, items: Iterable[T], call: Callable[[T], Any]
    ) -> Iterator[tuple[T, Any]]:
        futures: dict[Future[Any], T] = {pool.submit(call, item): item for item in items}
        for done, future in enumerate(as_completed(futures), 1):
            if done % 50 == 0:
                self._heartbeat()
            try:
                result: Any = future.result()
            except (KissError, Exception) as error:  # recorded per item, never fatal for the run
                result = error
            yield futures[future], result

    def _create_call(self, create: Create) -> helix_subs.Created:
        want = create.desired
        token = Token.app() if create.user_id is None else Token.user(create.user_id)
        return helix_subs.create(
            self._helix,
            type=want.type,
            version=want.version,
            condition=condition_of(want),
            transport=create.transport,
            token=token,
        )

    def _delete_call(self, item: tuple[Delete, str | None]) -> bool:
        delete, user = item
        token = Token.user(user) if user else Token.app()
        return helix_subs.delete(self._helix, delete.active.id, token=token)

    @staticmethod
    def _websocket_owners(session: Session, deletes: Iterable[Delete]) -> dict[str, str]:
        """Whose token deletes each websocket subscription (read here: threads get no DB)."""
        ids = [d.active.id for d in deletes if d.active.method == "websocket"]
        if not ids:
            return {}
        rows = session.execute(
            select(ActiveSubscription.twitch_id, ActiveSubscription.user_id).where(
                ActiveSubscription.twitch_id.in_(ids)
            )
        )
        return {twitch_id: user_id for twitch_id, user_id in rows if user_id}

    # -- recording -------------------------------------------------------------------------
    def _outcome(self, channel_id: str, fields: dict[str, str]) -> None:
        if channel_id:
            self._redis.xadd(
                self._keys.subscription_outcomes(channel_id),
                fields,  # type: ignore[arg-type]
                maxlen=OUTCOMES_MAXLEN,
                approximate=True,
            )

    def _record_create(
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
            state.audit(
                session,
                action,
                channel_id=want.channel_id,
                type=want.type,
                version=want.version,
                subscription_id=sub.id,
                status=202,
            )
            session.commit()
            self._outcome(
                want.channel_id,
                {**base, "status": "active", "reason": "", "subscription_id": sub.id},
            )
            metrics.CHANGES.labels(action).inc()
            if result.adopted:
                report.adopted += 1
            else:
                report.created += 1
            return
        self._record_create_failure(session, row, want.channel_id, base, result, report)

    def _record_create_failure(
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
        if isinstance(error, TransientHelixError | TokenError) or not isinstance(error, KissError):
            attempts = (row.attempts if row else 0) + 1
            delay = min(RETRY_CAP_SECONDS, 2.0**attempts) * random.uniform(0.5, 1.0)
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
        state.audit(
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
            self._outcome(
                channel_id, {**base, "status": "failed", "reason": message, "subscription_id": ""}
            )

    def _record_delete(self, session: Session, delete: Delete, result: Any, report: Report) -> None:
        active = delete.active
        channel_id = _channel_of(active)
        if isinstance(result, bool):
            store.delete_active(session, active.id)
            state.audit(
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
                    channel_id,
                    {
                        "type": active.type,
                        "version": active.version,
                        "status": "removed",
                        "reason": delete.reason,
                        "subscription_id": active.id,
                    },
                )
            return
        message = result.message if isinstance(result, HelixError) else str(result)
        state.audit(
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
        if isinstance(result, TransientHelixError | TokenError):
            retry_at = self._clock() + self._interval
            report.next_retry_at = min(report.next_retry_at or retry_at, retry_at)

    def _record_unplaced(
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
        state.audit(
            session,
            "failure",
            channel_id=want.channel_id,
            type=want.type,
            version=want.version,
            message=f"cannot place: {unplaced.reason}",
        )
        self._outcome(
            want.channel_id,
            {
                "type": want.type,
                "version": want.version,
                "status": "failed",
                "reason": unplaced.reason,
                "subscription_id": "",
            },
        )

    def _finish(self, session: Session, report: Report, started: float) -> None:
        finished = self._clock()
        summary = {**report.as_dict(), "at": finished, "seconds": round(finished - started, 3)}
        state.set_state(session, state.LAST_RECONCILE, summary)
        if report.outcome == "done":
            state.bump_counters(
                session,
                reconciliations=1,
                created=report.created,
                deleted=report.deleted,
                failures=len(report.errors),
            )
        else:
            state.bump_counters(session, reconciliations_skipped=1)
        metrics.RECONCILES.labels(report.outcome).inc()
        metrics.RECONCILE_SECONDS.observe(finished - started)
        metrics.SUBSCRIPTIONS.labels("active").set(report.kept + report.created + report.adopted)
        metrics.SUBSCRIPTIONS.labels("failed").set(report.failed)
        metrics.SUBSCRIPTIONS.labels("waiting").set(report.waiting)


def _channel_of(active: Active) -> str:
    return channel_of(condition_of(active)) or ""


def describe(report: Report) -> str:
    return orjson.dumps(report.as_dict()).decode()
