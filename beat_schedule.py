"""Celery beat schedule of the hub: reconcile, resync, token validation, stream trimming."""

from __future__ import annotations

from typing import Any

from kiss.contracts import tasks
from kiss.settings import Settings

TOKEN_VALIDATION_SECONDS = 3600.0  # Twitch requires validating OAuth tokens hourly
STREAM_TRIM_SECONDS = 300.0
RESYNC_EVERY_RECONCILES = 10


def build_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    interval = settings.eventsub.reconcile_interval
    return {
        "reconcile": {"task": tasks.RECONCILE, "schedule": interval},
        # Drift that only Twitch knows of (orphans made elsewhere, expired websocket subs).
        "resync": {"task": tasks.RESYNC, "schedule": interval * RESYNC_EVERY_RECONCILES},
        "validate-tokens": {"task": tasks.VALIDATE_TOKENS, "schedule": TOKEN_VALIDATION_SECONDS},
        "trim-streams": {"task": tasks.TRIM_STREAMS, "schedule": STREAM_TRIM_SECONDS},
    }
