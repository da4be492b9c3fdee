"""One module per fault scenario of bench/faults.py; each has ``run(quick: bool) -> Figures``.

Figures is a plain dict with at least the keys of ``FIGURE_KEYS`` (None where a figure does not
apply to the scenario) and ``targets_met`` (bool); anything else the scenario measured may follow.
"""

from __future__ import annotations

from typing import Any

Figures = dict[str, Any]

FIGURE_KEYS = (
    "scenario",
    "events_sent",
    "lost_after_socket",
    "lost_at_twitch",
    "duplicated",
    "order_inversions",
    "resume_seconds",
    "convergence_seconds",
    "bound_seconds",
    "subscriptions",
    "orphans",
    "max_concurrent_reconciles",
    "helix_calls_per_subscription",
    "targets_met",
)
