"""Prometheus metrics of Helix traffic (exposed by the ops engineer's exporter)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

HELIX_REQUESTS = Counter(
    "kiss_helix_requests_total",
    "Helix requests by method, endpoint and answer status (0: no answer).",
    ["method", "endpoint", "status"],
)
HELIX_RATE_LIMITED = Counter(
    "kiss_helix_rate_limited_total",
    "Helix answers that were a 429 rate limit (not a quota).",
)
RATELIMIT_HEADROOM = Gauge(
    "kiss_helix_ratelimit_remaining",
    "Ratelimit-Remaining of the last Helix answer, per bucket.",
    ["bucket"],
)
