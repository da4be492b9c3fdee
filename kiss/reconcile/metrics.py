"""Prometheus metrics of reconciliation (exposed by the ops engineer's exporter)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SUBSCRIPTIONS = Gauge(
    "kiss_subscriptions",
    "Subscriptions by kind: desired, active (kept on Twitch), failed, waiting.",
    ["kind"],
)
RECONCILES = Counter("kiss_reconciles_total", "Reconciliations by outcome.", ["outcome"])
RECONCILE_SECONDS = Histogram("kiss_reconcile_seconds", "Wall time of one reconciliation.")
CHANGES = Counter(
    "kiss_subscription_changes_total", "Creates, deletes and failures on Twitch.", ["action"]
)
