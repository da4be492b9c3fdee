from __future__ import annotations

import itertools
import random

import pytest

from kiss.backoff import backoff, nth_delay


def test_delays_grow_to_the_cap_with_jitter_below_the_ceiling() -> None:
    delays = list(itertools.islice(backoff(0.1, 1.0, rng=random.Random(7).random), 12))
    ceilings = [min(1.0, 0.1 * 2**n) for n in range(12)]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays[6:]) > 0.2  # the later ones use the higher ceiling
    assert len(set(delays)) == len(delays)  # jittered, not fixed steps


def test_min_share_bounds_the_jitter_from_below() -> None:
    low = list(itertools.islice(backoff(1.0, 8.0, min_share=0.5, rng=lambda: 0.0), 5))
    high = list(itertools.islice(backoff(1.0, 8.0, min_share=0.5, rng=lambda: 1.0), 5))
    assert low == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert high == [1.0, 2.0, 4.0, 8.0, 8.0]


def test_a_policy_that_cannot_work_is_refused() -> None:
    with pytest.raises(ValueError, match="base <= maximum"):
        backoff(5.0, 1.0)


def test_nth_delay_is_the_iterators_delay_at_that_attempt() -> None:
    delays = backoff(0.5, 6.0, min_share=0.5, rng=lambda: 1.0)
    assert [next(delays) for _ in range(6)] == [
        nth_delay(n, 0.5, 6.0, min_share=0.5, rng=lambda: 1.0) for n in range(1, 7)
    ]
    assert nth_delay(3, 2.0, 100.0, min_share=0.5, rng=lambda: 0.0) == 4.0
    with pytest.raises(ValueError, match="attempts count from 1"):
        nth_delay(0, 1.0, 2.0)
