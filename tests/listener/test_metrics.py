from __future__ import annotations

from typing import Any

import requests
from prometheus_client import CollectorRegistry

from kiss.contracts.stream_entry import Entry
from kiss.eventsub.timestamps import format_timestamp
from kiss.listener.delivery_stats import DeliveryStats
from kiss.listener.health import SlotSnapshot, Snapshot
from kiss.listener.metrics import ListenerCollector, serve_metrics
from kiss.listener.refusals import Refusals


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


def test_lease_metrics_say_how_shards_were_taken_and_which_are_unconfirmed() -> None:
    snap = Snapshot(
        "L1", "conduit", 1.0, (), pending=0, written=0, duplicates=0, shards=("0", "1"),
        unconfirmed=("2",), lease_counts=(("restarted", 2), ("reclaimed", 1), ("lost", 0)),
    )  # fmt: skip
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in ListenerCollector(lambda: snap).collect()
        for sample in family.samples
    }
    one = (("listener", "L1"),)
    assert samples["kiss_listener_shard_leases_total", (*one, ("outcome", "restarted"))] == 2
    assert samples["kiss_listener_shard_leases_total", (*one, ("outcome", "reclaimed"))] == 1
    assert samples["kiss_listener_shards_held", one] == 2
    assert samples["kiss_listener_shards_unconfirmed", one] == 1


def serve(snap: Snapshot, refusals: Refusals | None = None) -> tuple[Any, str]:
    server, port = serve_metrics(
        lambda: snap, 0, registry=CollectorRegistry(), refusals=refusals or Refusals()
    )
    return server, f"http://127.0.0.1:{port}"


def test_the_metrics_port_listens_on_127_0_0_1_by_default() -> None:
    server, _url = serve(snapshot())
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.shutdown()


def test_refused_frames_are_counted_by_kind() -> None:
    refusals = Refusals()
    for _ in range(3):
        refusals.refuse("binary_frame", "a binary message")
    server, url = serve(snapshot(), refusals)
    try:
        text = requests.get(f"{url}/metrics", timeout=5).text
    finally:
        server.shutdown()
    assert 'kiss_listener_refused_frames_total{kind="binary_frame",listener="L1"} 3.0' in text
    assert 'kiss_listener_refused_frames_total{kind="bad_channel_id",listener="L1"} 0.0' in text


def test_healthz_answers_the_listener_health_verdict_and_other_paths_404() -> None:
    lost = snapshot()  # shard 1 is lost: ``kiss listener health`` says unhealthy
    server, url = serve(lost)
    try:
        answer = requests.get(f"{url}/healthz", timeout=5)
        assert answer.status_code == 503
        body = answer.json()
        assert body["healthy"] is False and body["listener"] == "L1"
        assert body["problems"] == ["conduit:C:shard:1 is lost"]
        for path in ("/", "/metrics/extra", "/favicon.ico", "/healthz/x"):
            assert requests.get(f"{url}{path}", timeout=5).status_code == 404, path
    finally:
        server.shutdown()
    active = Snapshot("L1", "conduit", 1.0, snapshot().slots[:1], 0, 0, 0)
    server, url = serve(active)
    try:
        answer = requests.get(f"{url}/healthz", timeout=5)
        assert answer.status_code == 200
        assert answer.json() == {"healthy": True, "listener": "L1", "state": "up", "problems": []}
    finally:
        server.shutdown()
