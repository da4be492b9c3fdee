"""Prometheus metrics of the listener, read from its snapshot at scrape time.

Nothing is counted on the hot path: the collector turns the listener's own counters into
metric families when Prometheus asks, so an event costs no metric update.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

from kiss.listener.delivery_stats import DeliveryStats
from kiss.listener.state import ACTIVE_PHASES, Snapshot


class ListenerCollector(Collector):
    def __init__(
        self, snapshot: Callable[[], Snapshot], clock: Callable[[], float] = time.time
    ) -> None:
        self._snapshot = snapshot
        self._clock = clock

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
        yield from _spool_families(snap)
        if snap.delivery is not None:
            yield from _delivery_families(snap.listener_id, snap.delivery)


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


def serve_metrics(
    snapshot: Callable[[], Snapshot],
    port: int,
    *,
    addr: str = "0.0.0.0",  # scraped from outside the container
    registry: CollectorRegistry | None = None,
) -> tuple[Any, int]:
    """Start the /metrics endpoint in a thread; returns (server, bound port)."""
    if registry is None:
        from prometheus_client import REGISTRY

        registry = REGISTRY  # with the Helix client's metrics too
    registry.register(ListenerCollector(snapshot))
    server, _thread = start_http_server(port, addr=addr, registry=registry)
    return server, int(server.server_port)
