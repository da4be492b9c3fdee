"""Delays between retries: exponential, capped and jittered. Pure: the caller sleeps.

Every retry of the hub draws from here: the listener's reconnects and shard bindings, the bot
client's Redis retries, Helix 5xx retries, the control consumer's Redis waits (``backoff``)
and a failed subscription's next attempt (``nth_delay``, for callers that store the attempt
count instead of keeping an iterator). Jitter keeps many processes that failed together from
retrying in step. The supervisor's restart delays stay deterministic on purpose (1 s, 2 s,
4 s... as the docs promise): ``kiss/supervisor/backoff.py``.
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


def nth_delay(
    attempt: int,
    base: float,
    cap: float,
    *,
    factor: float = 2.0,
    min_share: float = 0.0,
    rng: Callable[[], float] = random.random,
) -> float:
    """The delay ``backoff`` would give at ``attempt`` (1 for the first), without the iterator."""
    if attempt < 1:
        raise ValueError(f"attempts count from 1, got {attempt}")
    ceiling = min(cap, base * factor ** (attempt - 1))
    return float(ceiling * (min_share + (1.0 - min_share) * rng()))
