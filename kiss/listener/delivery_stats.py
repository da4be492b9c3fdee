"""Per-topic counts and a sampled Twitch-to-Redis latency histogram, kept by the writer.

Filled once per flush from the entries Redis accepted, not per frame: counting a topic is a
dict increment, and only one notification in ``sample_every`` has its timestamp parsed, so
the metrics cost the hot path next to nothing.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from operator import attrgetter

from kiss.contracts.stream_entry import NOTIFICATION, Entry
from kiss.errors import MalformedMessage
from kiss.eventsub.timestamps import parse_timestamp

_KIND = attrgetter("kind")
_TYPE = attrgetter("type")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class DeliveryStats:
    def __init__(self, sample_every: int = 32) -> None:
        self.sample_every = sample_every
        self.by_type: Counter[str] = Counter()
        self.bucket_counts = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.latency_sum = 0.0
        self.latency_count = 0
        self._next_sample = sample_every - 1

    def record(self, written: Sequence[Entry]) -> None:
        """Count the accepted entries per topic; time one notification in ``sample_every``."""
        if set(map(_KIND, written)) != {NOTIFICATION}:  # gaps and revocations are rare
            written = [entry for entry in written if entry.kind == NOTIFICATION]
        self.by_type.update(map(_TYPE, written))
        every = self.sample_every
        for entry in written[self._next_sample :: every]:
            self._observe(entry.twitch_ts, entry.received_ts)
        self._next_sample = (self._next_sample - len(written)) % every

    def _observe(self, twitch_ts: str, received_ts: str) -> None:
        try:
            latency = max(0.0, float(received_ts) - parse_timestamp(twitch_ts))
        except (MalformedMessage, ValueError):
            return
        self.bucket_counts[bisect_left(LATENCY_BUCKETS, latency)] += 1
        self.latency_sum += latency
        self.latency_count += 1

    def cumulative_buckets(self) -> list[tuple[str, int]]:
        """Prometheus-style (upper bound, cumulative count) pairs, ending with +Inf."""
        pairs: list[tuple[str, int]] = []
        total = 0
        bounds = (*map(str, LATENCY_BUCKETS), "+Inf")
        for bound, count in zip(bounds, self.bucket_counts, strict=True):
            total += count
            pairs.append((bound, total))
        return pairs
