"""Apply a plan on Twitch under the shared rate limiter (kiss.reconcile.outcomes records it).

Order: orphan deletes first (they free budget), then deletes of the disabled websocket
subscriptions that a create replaces (Twitch counts them against its 3 per type+condition
until they are deleted), then creates, then deletes of the other subscriptions that are
already dead on Twitch. Helix calls run on a small thread pool (the Redis bucket paces them);
all database writes stay on the calling thread.

A run holds the reconcile lock's lease (kiss.reconcile.lock): every Helix call first checks
it, so a run whose renewal failed sends nothing more; what Twitch already answered is still
recorded, the rest is left to the next holder, and the run ends as ``stopped: lost the lock``.
Each run is written to ``Keys.reconcile_runs()`` with its fencing token and holder.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any, TypeVar

import orjson
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kiss.auth.provider import Principal
from kiss.errors import (
    HelixError,
    LockLost,
    TokenError,
)
from kiss.eventsub import catalog
from kiss.helix import subscriptions as helix_subs
from kiss.helix.client import Guarded, HelixClient, Requester
from kiss.keys import Keys
from kiss.locks import Lease
from kiss.reconcile import inputs, metrics
from kiss.reconcile.outcomes import Recorder, Report
from kiss.reconcile.plan import (
    Active,
    Create,
    Delete,
    Limits,
    Plan,
    condition_of,
    plan,
    session_channels,
)
from kiss.store import hub_state
from kiss.store import subscriptions as store
from kiss.store.models import ActiveSubscription, DesiredSubscription, utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")

# A lost session's channel list must outlive the listener's restart; a day is plenty.
SESSION_CHANNELS_TTL_SECONDS = 86_400
RUNS_MAXLEN = 1000
Doomed = tuple[Delete, str | None]  # a subscription to delete, and whose token deletes it
LOST_LOCK = "stopped: lost the lock"


def _no_guard() -> None:
    return None


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
    ) -> None:
        self._sessions = sessions
        self._redis = redis_client
        self._keys = keys
        self._helix = helix
        self._interval = reconcile_interval
        self._concurrency = concurrency
        self._clock = clock
        self._recorder = Recorder(
            redis_client, keys, reconcile_interval=reconcile_interval, clock=clock
        )

    # -- entry points -------------------------------------------------------------
    def reconcile(self, *, resync: bool = False, lease: Lease | None = None) -> Report:
        """One run; under ``lease`` (the reconcile lock) when given, which every call checks."""
        started = self._clock()
        guard = lease.check if lease is not None else _no_guard
        if lease is not None:
            lease.uses += 1
        self._record_run(lease, "start", started)
        try:
            report = self._reconcile(resync, guard, started)
        except LockLost:
            report = Report(outcome=LOST_LOCK)
            with self._sessions.begin() as session:
                self._recorder.finish(session, report, started)
        self._record_run(lease, "finish", started, report)
        return report

    def _record_run(
        self, lease: Lease | None, event: str, started: float, report: Report | None = None
    ) -> None:
        if lease is None:
            return
        fields = {
            "event": event,
            "fence": str(lease.fence),
            "run": str(lease.uses),  # the holder runs again while requests come in
            "holder": lease.lock.holder_name,
            "started": repr(started),
        }
        if report is not None:
            fields |= {"finished": repr(self._clock()), "outcome": report.outcome}
            fields |= {name: str(getattr(report, name)) for name in ("created", "adopted")}
            fields |= {"deleted": str(report.deleted), "conflict_listings": str(report.listings)}
        self._redis.xadd(
            self._keys.reconcile_runs(),
            fields,  # type: ignore[arg-type]
            maxlen=RUNS_MAXLEN,
            approximate=True,
        )

    def _reconcile(self, resync: bool, guard: Callable[[], None], started: float) -> Report:
        helix = Guarded(self._helix, guard)
        if self._redis.exists(self._keys.drain()):
            report = Report(outcome="skipped: drain")
            with self._sessions.begin() as session:
                self._recorder.finish(session, report, started)
            return report
        if resync:
            self.resync(helix)
        guard()
        with self._sessions() as session:
            now = self._clock()
            desired = inputs.load_desired(session)
            active = inputs.load_active(session)
            limits = inputs.load_limits(session, self._redis, self._keys, now)
            session.rollback()
        the_plan = plan(desired, active, limits)
        self._tell_listener(the_plan, active, limits, now)
        report = Report(kept=len(the_plan.keep))
        metrics.SUBSCRIPTIONS.labels("desired").set(len(desired))
        with self._sessions() as session:
            self._apply(session, the_plan, report, helix)
            self._recorder.finish(session, report, started)
            session.commit()
        return report

    def _tell_listener(
        self, the_plan: Plan, active: list[Active], limits: Limits, now: float
    ) -> None:
        """Tell the listener which users need another websocket session (and clear the rest),
        and which channels each websocket session carries: when one is lost, every one of them
        gets a gap marker, not only those the listener has seen an event of."""
        pipe = self._redis.pipeline(transaction=True)
        for session_id, channels in session_channels(the_plan, active, limits).items():
            key = self._keys.ws_session_channels(session_id)
            pipe.delete(key)
            if channels:
                pipe.sadd(key, *sorted(channels))
                pipe.expire(key, SESSION_CHANNELS_TTL_SECONDS)
        pipe.delete(self._keys.ws_sessions_wanted())
        if the_plan.sessions_wanted:
            pipe.hset(
                self._keys.ws_sessions_wanted(),
                mapping={
                    user: orjson.dumps({"sessions": count, "at": now}).decode()
                    for user, count in the_plan.sessions_wanted
                },
            )
        pipe.execute()

    def resync(self, helix: Requester | None = None) -> int:
        """Replace the active table with Twitch's whole state (app + each websocket user)."""
        helix = helix or self._helix
        listed_at = utcnow()  # what the hub records from here on is newer than the listing
        listing = helix_subs.list_all(helix, principal=Principal.app())
        found: list[tuple[store.TwitchSubscription, str | None]] = [
            (sub, None) for sub in listing.subscriptions if sub.method != "websocket"
        ]
        users = set(inputs.welcomed_sessions(self._redis, self._keys).values())
        with self._sessions() as session:
            users |= {
                owner
                for d in store.list_desired(session)
                if d.transport == "websocket"
                and (owner := catalog.owner_of(d.type, d.version, orjson.loads(d.condition)))
            }
            users |= {
                row.user_id
                for row in store.list_active(session)
                if row.method == "websocket" and row.user_id
            }
        for user_id in sorted(users):
            try:
                user_listing = helix_subs.list_all(helix, principal=Principal.user(user_id))
            except (TokenError, HelixError) as error:
                log.warning("resync: cannot list websocket subs of user %s: %s", user_id, error)
                continue
            found.extend((sub, user_id) for sub in user_listing.subscriptions)
        with self._sessions.begin() as session:
            count = store.replace_active(session, found, listed_at)
            if listing.max_total_cost is not None:
                hub_state.set_state(session, inputs.APP_MAX_TOTAL_COST, listing.max_total_cost)
            hub_state.set_state(
                session, "last_resync", {"at": self._clock(), "subscriptions": count}
            )
            hub_state.bump_counters(session, resyncs=1)
        return count

    # -- applying ----------------------------------------------------------------------
    def _apply(self, session: Session, the_plan: Plan, report: Report, helix: Guarded) -> None:
        desired_rows = {row.id: row for row in self._rows(session, the_plan)}
        self._settle(session, the_plan, desired_rows, report)
        orphans, replaced, stale = self._deletes(session, the_plan)
        conflicts = helix_subs.Conflicts(helix)
        lost: list[LockLost] = []

        def create(item: Create) -> helix_subs.Created | helix_subs.Conflict:
            return self._create_call(helix, item)

        def delete(item: tuple[Delete, str | None]) -> bool:
            return self._delete_call(helix, item)

        with ThreadPoolExecutor(max_workers=self._concurrency) as pool:
            for deletes in (orphans, replaced):
                for (doomed, _), result in self._run(pool, deletes, delete, helix.guard, lost):
                    self._recorder.deleted(session, doomed, result, report)
            later: list[tuple[Create, helix_subs.Conflict]] = []
            for wanted, result in self._run(pool, the_plan.create, create, helix.guard, lost):
                if isinstance(result, helix_subs.Conflict):
                    later.append((wanted, result))
                    continue
                self._recorder.created(
                    session, desired_rows.get(wanted.desired.id), wanted, result, report
                )
            for wanted, resolved in self._resolve(conflicts, later, lost):
                self._recorder.created(
                    session, desired_rows.get(wanted.desired.id), wanted, resolved, report
                )
            for (doomed, _), result in self._run(pool, stale, delete, helix.guard, lost):
                self._recorder.deleted(session, doomed, result, report)
        report.listings = conflicts.listings
        if lost:
            raise lost[0]

    def _settle(
        self,
        session: Session,
        the_plan: Plan,
        desired_rows: dict[int, DesiredSubscription],
        report: Report,
    ) -> None:
        """Record what needs no Helix call: the kept subscriptions and the unplaced ones."""
        for want, sub in the_plan.keep:
            row = desired_rows.get(want.id)
            if row is not None and (row.state != "active" or row.subscription_id != sub.id):
                row.state, row.reason, row.subscription_id = "active", "", sub.id
                row.attempts, row.next_attempt_at = 0, None
        for unplaced in the_plan.unplaced:
            self._recorder.unplaced(
                session, desired_rows.get(unplaced.desired.id), unplaced, report
            )
        session.commit()

    def _deletes(self, session: Session, the_plan: Plan) -> tuple[list[Doomed], ...]:
        """Orphans; disabled websocket subscriptions a create replaces (Twitch counts them
        against its 3 per type+condition until deleted); the other stale ones."""
        owners = self._websocket_owners(session, the_plan.delete)
        replacing = {c.desired.key for c in the_plan.create if c.transport["method"] == "websocket"}
        orphans: list[Doomed] = []
        replaced: list[Doomed] = []
        stale: list[Doomed] = []
        for doomed in the_plan.delete:
            item = (doomed, owners.get(doomed.active.id))
            if not doomed.stale:
                orphans.append(item)
            elif doomed.active.method == "websocket" and doomed.active.key in replacing:
                replaced.append(item)
            else:
                stale.append(item)
        return orphans, replaced, stale

    @staticmethod
    def _resolve(
        conflicts: helix_subs.Conflicts,
        later: list[tuple[Create, helix_subs.Conflict]],
        lost: list[LockLost],
    ) -> Iterator[tuple[Create, Any]]:
        """The 409s of the run, after its creates: one listing per type shows them all."""
        for wanted, conflict in later:
            try:
                resolved: Any = conflicts.resolve(conflict)
            except LockLost as error:
                lost.append(error)
                return
            except Exception as error:  # recorded per item, never fatal for the run
                resolved = error
            yield wanted, resolved

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
        self,
        pool: ThreadPoolExecutor,
        items: Iterable[T],
        call: Callable[[T], Any],
        guard: Callable[[], None],
        lost: list[LockLost],
    ) -> Iterator[tuple[T, Any]]:
        """Each item's result (or its error), as they complete. Once the lease is lost,
        nothing more is submitted and the items it stopped are not yielded: what they would
        have done is the next holder's (``lost`` gets the error)."""
        if lost:
            return
        futures: dict[Future[Any], T] = {pool.submit(call, item): item for item in items}
        for future in as_completed(futures):
            try:
                result: Any = future.result()
            except LockLost as error:
                lost.append(error)
                continue
            except Exception as error:  # recorded per item, never fatal for the run
                result = error
            yield futures[future], result
        if not lost:
            try:
                guard()
            except LockLost as error:
                lost.append(error)

    def _create_call(
        self, helix: Guarded, create: Create
    ) -> helix_subs.Created | helix_subs.Conflict:
        helix.guard()  # before the rate-limit wait: a stopped run reserves no more slots
        want = create.desired
        principal = Principal.app() if create.user_id is None else Principal.user(create.user_id)
        return helix_subs.attempt_create(
            helix,
            type=want.type,
            version=want.version,
            condition=condition_of(want),
            transport=create.transport,
            principal=principal,
        )

    def _delete_call(self, helix: Guarded, item: tuple[Delete, str | None]) -> bool:
        helix.guard()
        delete, user = item
        principal = Principal.user(user) if user else Principal.app()
        return helix_subs.delete(helix, delete.active.id, principal=principal)

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
