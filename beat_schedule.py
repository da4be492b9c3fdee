"""Celery beat schedule of the hub (filled in by the control plane)."""

from __future__ import annotations

from typing import Any

BEAT_SCHEDULE: dict[str, dict[str, Any]] = {}
