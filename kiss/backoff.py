"""Delays between retries: exponential, capped and jittered. Pure: the caller sleeps.

The listener's reconnects and the bot client's Redis retries both draw from ``backoff``;
jitter keeps many processes that failed together from retrying in step.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator


def backoff(
    base: float,
    cap: float,
    *,
    factor: float = 2.0,
    min_share: float = 0.0,
    rng: Callable[[], float] = random.random,
) -> Iterator[float]:
    """Endless delays: ``ceiling * (min_share + (1 - min_share) * rng())``, where the ceiling
    starts at ``base`` and grows by ``factor`` up to ``cap``. ``min_share=0`` is full jitter."""
    if base <= 0 or cap < base:  # checked here, at once, not at the first delay
        raise ValueError(f"backoff needs 0 < base <= maximum, got {base} and {cap}")
    return _delays(base, cap, factor, min_share, rng)


def _delays(
    ceiling: float, cap: float, factor: float, min_share: float, rng: Callable[[], float]
) -> Iterator[float]:
    while True:
        yield float(ceiling * (min_share + (1.0 - min_share) * rng()))
        ceiling = min(cap, ceiling * factor)
