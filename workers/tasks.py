# mypy: disable-error-code="untyped-decorator"
# (Celery ships no type hints, so its decorators are untyped.)
"""Thin Celery tasks: ids in, control-plane services called, a JSON-able summary out.

Celery retries (with backoff and jitter) what ``kiss.errors.is_retryable`` calls retryable;
per-subscription failures are recorded by the reconciler, which schedules its own follow-up run.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from celery import current_task
from celery.signals import worker_process_shutdown, worker_ready

from kiss.auth.validation import validate_all
from kiss.contracts import tasks
from kiss.errors import retryable_types
from kiss.locks import Lease
from kiss.reconcile.outcomes import Report
from kiss.reconcile.revocations import record_revocation
from kiss.reconcile.services import Services
from kiss.settings import load_settings
from kiss.store import subscriptions as store
from workers.celery_app import app

log = logging.getLogger(__name__)

_process: dict[str, Services] = {}
RETRY = {
    "autoretry_for": retryable_types(),
    "retry_backoff": True,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
}


def services() -> Services:
    """This worker process's collaborators (built on first use, after the fork)."""
    if "services" not in _process:
        _process["services"] = Services.build(load_settings())
    return _process["services"]


@worker_process_shutdown.connect
def _close_services(**_: Any) -> None:
    built = _process.pop("services", None)
    if built is not None:
        built.close()


@worker_ready.connect
def _on_worker_ready(sender: Any = None, **_: Any) -> None:
    # Twitch wants tokens validated at start-up; then the state is re-read and reconciled.
    queue = app.conf.task_default_queue
    app.send_task(tasks.VALIDATE_TOKENS, queue=queue)
    app.send_task(tasks.RESYNC, queue=queue)


# How long the start-up resync waits for the reconcile lock beyond its ttl: a dead worker's
# lock has expired by then, and a live holder has taken the request itself.
RESYNC_WAIT_MARGIN_SECONDS = 5.0


def _run_reconcile(resync: bool, *, wait: bool = False, why: str = "reconcile") -> dict[str, Any]:
    svc = services()
    lock = svc.lock(holder=_holder_name())
    reconciler = svc.reconciler()
    wait_seconds = lock.ttl_seconds + RESYNC_WAIT_MARGIN_SECONDS if wait else 0.0

    def once(lease: Lease, resync_now: bool) -> Report:
        # Only a run that took a resync request re-reads Twitch; the others use the mirror.
        return reconciler.reconcile(resync=resync_now, lease=lease)

    reports = lock.run_requested(once, resync=resync, wait_seconds=wait_seconds, why=why)
    if not reports:
        return {"outcome": "queued: another reconciliation holds the lock"}
    last = reports[-1]
    if last.next_retry_at is not None:
        countdown = max(0.5, last.next_retry_at - time.time())
        reconcile.apply_async(countdown=countdown)
    return {**last.as_dict(), "runs": len(reports)}


def _holder_name() -> str:
    """This worker as the lock's holder: Celery's node name and the pid (in log lines)."""
    request = current_task.request if current_task else None
    node = getattr(request, "hostname", None) or socket.gethostname()
    return f"{node} pid {os.getpid()}"


@app.task(name=tasks.RECONCILE, **RETRY)
def reconcile() -> dict[str, Any]:
    """Make Twitch match the desired subscriptions (one run at a time across workers)."""
    return _run_reconcile(resync=False)


@app.task(name=tasks.RESYNC, **RETRY)
def resync() -> dict[str, Any]:
    """Re-read Twitch's whole state, then reconcile. Sent at every worker's start: it waits
    (bounded) for the lock of a worker that died holding it, or leaves the resync to the
    live holder, which re-reads Twitch on its next run."""
    return _run_reconcile(resync=True, wait=True, why="resync")


@app.task(name=tasks.SUBSCRIBE, **RETRY)
def subscribe(desired_id: int | None = None, channel_id: str | None = None) -> dict[str, Any]:
    """A desired subscription was recorded: place it now, not at the next beat."""
    return _run_reconcile(resync=False)


@app.task(name=tasks.UNSUBSCRIBE, **RETRY)
def unsubscribe(
    channel_id: str, type: str, version: str, condition: dict[str, str] | None = None
) -> dict[str, Any]:
    """workers/control.py forgot a desired subscription (the one place that removes it, in
    the order the bot asked): delete it on Twitch now, not at the next beat. ``removed``
    says that no desired row of it is left."""
    key = store.canonical(condition or {"broadcaster_user_id": channel_id})
    with services().sessions() as session:
        left = [
            row
            for row in store.list_desired(session, channel_id)
            if (row.type, row.version, row.condition) == (type, version, key)
        ]
    return {"removed": not left, **_run_reconcile(resync=False)}


@app.task(name=tasks.SESSION_WELCOMED, **RETRY)
def session_welcomed(session_id: str, user_id: str) -> dict[str, Any]:
    """A websocket session is fresh: recreate its user's subscriptions on it at once."""
    log.info("session %s of user %s welcomed: reconciling now", session_id, user_id)
    return _run_reconcile(resync=False)


@app.task(name=tasks.REVOKED)
def revoked(
    subscription_id: str, channel_id: str, type: str, version: str, reason: str
) -> dict[str, Any]:
    """Twitch revoked a subscription: stop retrying it and show why."""
    svc = services()
    with svc.sessions() as session:
        hit = record_revocation(
            session,
            svc.redis,
            svc.keys,
            subscription_id=subscription_id,
            channel_id=channel_id,
            type=type,
            version=version,
            reason=reason,
        )
    return {"subscription_id": subscription_id, "desired": hit, "reason": reason}


@app.task(name=tasks.VALIDATE_TOKENS)
def validate_tokens() -> dict[str, object]:
    """Validate every stored token (start-up and hourly); refresh or mark the refused ones."""
    svc = services()
    return validate_all(svc.sessions, svc.cipher, svc.oauth, svc.tokens).as_dict()


@app.task(name=tasks.TRIM_STREAMS)
def trim_streams() -> dict[str, int]:
    """Trim every channel stream by length and by age."""
    svc = services()
    streams = svc.settings.streams
    min_id = int((time.time() - streams.max_age_seconds) * 1000)
    trimmed = 0
    for raw in svc.redis.smembers(svc.keys.channels()):
        channel_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        stream = svc.keys.channel_stream(channel_id)
        trimmed += int(svc.redis.xtrim(stream, maxlen=streams.maxlen, approximate=True))
        trimmed += int(svc.redis.xtrim(stream, minid=str(min_id), approximate=True))
    return {"trimmed": trimmed}
