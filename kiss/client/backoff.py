"""Reconnect delays: exponential with full jitter, capped (pure; the caller sleeps)."""

from __future__ import annotations

import random
from collections.abc import Iterator


def backoff(
    base: float, cap: float, *, factor: float = 2.0, rng: random.Random | None = None
) -> Iterator[float]:
    """Endless delays: uniform in [0, min(cap, base * factor**attempt)]."""
    draw = rng or random.Random()
    ceiling = base
    while True:
        yield draw.uniform(0.0, ceiling)
        ceiling = min(cap, ceiling * factor)
