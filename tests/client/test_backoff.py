from __future__ import annotations

import itertools
import random

from kiss.client.backoff import backoff


def test_delays_grow_to_the_cap_with_jitter_below_the_ceiling() -> None:
    delays = list(itertools.islice(backoff(0.1, 1.0, rng=random.Random(7)), 12))
    ceilings = [min(1.0, 0.1 * 2**n) for n in range(12)]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays[6:]) > 0.2  # the later ones use the higher ceiling
    assert len(set(delays)) == len(delays)  # jittered, not fixed steps
