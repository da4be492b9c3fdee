"""Prometheus metrics of the listener, read from its snapshot at scrape time, and its
``/healthz`` (the verdict of ``kiss listener health``: ``state.assess``).

Nothing is counted on the hot path: the collector turns the listener's own counters into
metric families when Prometheus asks, so an event costs no metric update.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from kiss.listener.delivery_stats import DeliveryStats
from kiss.listener.health import ACTIVE_PHASES, Snapshot, assess, state_word
from kiss.listener.refusals import REFUSALS, Refusals
from kiss.metrics_server import Health, serve


class ListenerCollector(Collector):
    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        clock: Callable[[], float] = time.time,
        refusals: Refusals = REFUSALS,
    ) -> None:
        self._snapshot = snapshot
        self._clock = clock
        self._refusals = refusals

    def collect(self) -> Iterator[Any]:
        snap = self._snapshot()
        labels = ["listener", "slot"]
        families = {
            "delivered": CounterMetricFamily(
                "kiss_listener_events", "Notifications received and routed", labels=labels
            ),
            "reconnects": CounterMetricFamily(
                "kiss_listener_reconnects", "Sessions lost and dialled again", labels=labels
            ),
            "handovers": CounterMetricFamily(
                "kiss_listener_handovers", "session_reconnect handovers", labels=labels
            ),
            "gaps": CounterMetricFamily(
                "kiss_listener_gaps", "Gap markers written after a loss", labels=labels
            ),
            "dropped": CounterMetricFamily(
                "kiss_listener_dropped", "Frames not routed (stale, malformed)", labels=labels
            ),
        }
        up = GaugeMetricFamily(
            "kiss_listener_session_up", "1 if the slot is welcomed", labels=labels
        )
        silence = GaugeMetricFamily(
            "kiss_listener_seconds_since_last_message", "Silence of each slot", labels=labels
        )
        now = self._clock()
        for slot in snap.slots:
            values = [snap.listener_id, slot.slot]
            for name, family in families.items():
                family.add_metric(values, getattr(slot, name))
            up.add_metric(values, 1.0 if slot.phase in ACTIVE_PHASES else 0.0)
            if slot.last_message_at is not None:
                silence.add_metric(values, max(0.0, now - slot.last_message_at))
        yield from families.values()
        yield up
        yield silence
        one = ["listener"]
        written = CounterMetricFamily(
            "kiss_listener_entries_written", "Entries added to channel streams", labels=one
        )
        written.add_metric([snap.listener_id], snap.written)
        duplicates = CounterMetricFamily(
            "kiss_listener_duplicates", "Messages dropped as duplicates", labels=one
        )
        duplicates.add_metric([snap.listener_id], snap.duplicates)
        flushes = CounterMetricFamily(
            "kiss_listener_flushes", "Batched writes to Redis (one round trip each)", labels=one
        )
        flushes.add_metric([snap.listener_id], snap.flushes)
        pending = GaugeMetricFamily(
            "kiss_listener_pending_entries", "Entries waiting for the next flush", labels=one
        )
        pending.add_metric([snap.listener_id], snap.pending)
        yield written
        yield duplicates
        yield flushes
        yield pending
        refused = CounterMetricFamily(
            "kiss_listener_refused_frames",
            "Frames refused as broken or hostile, by kind (see kiss/listener/refusals.py)",
            labels=["listener", "kind"],
        )
        for kind, count in self._refusals.counts.items():
            refused.add_metric([snap.listener_id, kind], count)
        yield refused
        yield from _spool_families(snap)
        if snap.delivery is not None:
            yield from _delivery_families(snap.listener_id, snap.delivery)
        yield from _lease_families(snap)


def _spool_families(snap: Snapshot) -> Iterator[Any]:
    """The spool: what waits on disk while Redis is away or behind, and what a full one
    dropped (each channel concerned gets a gap marker)."""
    one, values = ["listener"], [snap.listener_id]
    entries = GaugeMetricFamily(
        "kiss_listener_spool_entries", "Entries in the spool, waiting for Redis", labels=one
    )
    entries.add_metric(values, snap.spool_entries)
    size = GaugeMetricFamily("kiss_listener_spool_bytes", "Spool size on disk", labels=one)
    size.add_metric(values, snap.spool_bytes)
    dropped = CounterMetricFamily(
        "kiss_listener_spool_dropped", "Entries dropped: the spool was full", labels=one
    )
    dropped.add_metric(values, snap.dropped)
    yield entries
    yield size
    yield dropped


def _delivery_families(listener_id: str, delivery: DeliveryStats) -> Iterator[Any]:
    by_type = CounterMetricFamily(
        "kiss_listener_events_by_type",
        "Notifications written to channel streams, per subscription type",
        labels=["listener", "type"],
    )
    for type_, count in sorted(delivery.by_type.items()):
        by_type.add_metric([listener_id, type_], count)
    yield by_type
    latency = HistogramMetricFamily(
        "kiss_listener_latency_seconds",
        "Twitch's message_timestamp to the entry's receipt (sampled notifications)",
        labels=["listener"],
    )
    latency.add_metric([listener_id], delivery.cumulative_buckets(), sum_value=delivery.latency_sum)
    yield latency


def _lease_families(snap: Snapshot) -> Iterator[Any]:
    one = [snap.listener_id]
    events = CounterMetricFamily(
        "kiss_listener_shard_leases",
        "Shard lease events: claimed, restarted (taken back from this id's previous process), "
        "handed_over (planned), reclaimed (lapsed while Redis was away), lost",
        labels=["listener", "outcome"],
    )
    for outcome, count in snap.lease_counts:
        events.add_metric([snap.listener_id, outcome], count)
    yield events
    held = GaugeMetricFamily(
        "kiss_listener_shards_held", "Shards whose leases Redis confirmed", labels=["listener"]
    )
    held.add_metric(one, len(snap.shards))
    yield held
    unconfirmed = GaugeMetricFamily(
        "kiss_listener_shards_unconfirmed",
        "Shards run whose leases were not renewed within a lease (Redis unreachable)",
        labels=["listener"],
    )
    unconfirmed.add_metric(one, len(snap.unconfirmed))
    yield unconfirmed


def listener_health(snapshot: Callable[[], Snapshot]) -> Health:
    """``/healthz``: the verdict the listener writes for ``kiss listener health``."""

    def health() -> tuple[bool, dict[str, Any]]:
        snap = snapshot()
        healthy, problems = assess(snap)
        return healthy, {
            "listener": snap.listener_id,
            "state": state_word(snap),
            "problems": problems,
        }

    return health


def serve_metrics(
    snapshot: Callable[[], Snapshot],
    port: int,
    *,
    addr: str = "127.0.0.1",  # settings.metrics_host; compose sets 0.0.0.0 in a container
    registry: CollectorRegistry | None = None,
    refusals: Refusals = REFUSALS,
) -> tuple[Any, int]:
    """Start /metrics and /healthz in a thread; returns (server, bound port)."""
    if registry is None:
        from prometheus_client import REGISTRY

        registry = REGISTRY  # with the Helix client's metrics too
    registry.register(ListenerCollector(snapshot, refusals=refusals))
    return serve(registry, listener_health(snapshot), port, addr)
