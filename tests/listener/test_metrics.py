from __future__ import annotations

import requests
from prometheus_client import CollectorRegistry

from kiss.eventsub.timestamps import format_timestamp
from kiss.listener.delivery_stats import DeliveryStats
from kiss.listener.entries import Entry
from kiss.listener.metrics import serve_metrics
from kiss.listener.state import SlotSnapshot, Snapshot


def snapshot() -> Snapshot:
    slots = (
        SlotSnapshot("conduit:C:shard:0", "active", "S1", 90.0, 1.0, 120, 2, 1, 1, 3),
        SlotSnapshot("conduit:C:shard:1", "lost", None, None, None, 0, 5, 0, 0, 0),
    )
    delivery = DeliveryStats(sample_every=1)
    stamp = format_timestamp(90_000_000_000)
    entry = Entry("s", "d", "notification", "m", "stream.online", "1", "42", "sub", stamp,
                  "90.003", b"{}")  # fmt: skip
    delivery.record([entry] * 2)
    return Snapshot(
        "L1", "conduit", 1.0, slots, pending=4, written=125, duplicates=7, delivery=delivery,
        spool_entries=3, spool_bytes=2048, dropped=9,
    )  # fmt: skip


def test_metrics_endpoint_serves_the_listener_figures() -> None:
    server, port = serve_metrics(snapshot, 0, addr="127.0.0.1", registry=CollectorRegistry())
    try:
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        server.shutdown()
    slot0 = 'listener="L1",slot="conduit:C:shard:0"'
    slot1 = 'listener="L1",slot="conduit:C:shard:1"'
    assert f"kiss_listener_events_total{{{slot0}}} 120.0" in text
    assert f"kiss_listener_reconnects_total{{{slot1}}} 5.0" in text
    assert f"kiss_listener_session_up{{{slot0}}} 1.0" in text
    assert f"kiss_listener_session_up{{{slot1}}} 0.0" in text
    assert 'kiss_listener_entries_written_total{listener="L1"} 125.0' in text
    assert 'kiss_listener_duplicates_total{listener="L1"} 7.0' in text
    assert 'kiss_listener_pending_entries{listener="L1"} 4.0' in text
    assert 'kiss_listener_spool_entries{listener="L1"} 3.0' in text
    assert 'kiss_listener_spool_bytes{listener="L1"} 2048.0' in text
    assert 'kiss_listener_spool_dropped_total{listener="L1"} 9.0' in text
    assert "kiss_listener_seconds_since_last_message" in text
    assert 'kiss_listener_events_by_type_total{listener="L1",type="stream.online"} 2.0' in text
    assert 'kiss_listener_latency_seconds_bucket{le="0.0025",listener="L1"} 0.0' in text
    assert 'kiss_listener_latency_seconds_bucket{le="0.005",listener="L1"} 2.0' in text
    assert 'kiss_listener_latency_seconds_count{listener="L1"} 2.0' in text
