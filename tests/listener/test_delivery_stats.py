from __future__ import annotations

from kiss.contracts.stream_entry import Entry
from kiss.eventsub.timestamps import format_timestamp
from kiss.listener.delivery_stats import LATENCY_BUCKETS, DeliveryStats

T0 = 1_700_000_000.0


def row(type_: str, latency: float, kind: str = "notification") -> Entry:
    return entry(type_, format_timestamp(int(T0 * 1e9)), repr(T0 + latency), kind)


def entry(type_: str, twitch_ts: str, received_ts: str, kind: str = "notification") -> Entry:
    return Entry("s", "d", kind, "m", type_, "1", "42", "sub", twitch_ts, received_ts, b"{}")


def test_counts_notifications_per_type_and_ignores_other_kinds() -> None:
    stats = DeliveryStats(sample_every=1)
    stats.record(
        [row("stream.online", 0.001), row("channel.follow", 0.002), row("stream.online", 0.001)]
    )
    stats.record([row("", 0.0, kind="gap"), row("channel.follow", 0.0, kind="revocation")])
    assert stats.by_type == {"stream.online": 2, "channel.follow": 1}


def test_latency_lands_in_its_bucket_and_buckets_are_cumulative() -> None:
    stats = DeliveryStats(sample_every=1)
    stats.record([row("t", 0.0005), row("t", 0.004), row("t", 30.0)])
    buckets = dict(stats.cumulative_buckets())
    assert buckets["0.001"] == 1
    assert buckets["0.005"] == 2
    assert buckets["10.0"] == 2
    assert buckets["+Inf"] == 3
    assert len(buckets) == len(LATENCY_BUCKETS) + 1
    assert stats.latency_count == 3
    assert abs(stats.latency_sum - 30.0045) < 1e-3


def test_only_every_nth_notification_is_timed() -> None:
    stats = DeliveryStats(sample_every=4)
    stats.record([row("t", 0.001)] * 10)
    assert stats.latency_count == 2
    assert stats.by_type["t"] == 10


def test_sampling_runs_on_across_flushes() -> None:
    stats = DeliveryStats(sample_every=4)
    for size in (3, 2, 3):  # the 4th and the 8th notification overall are timed
        stats.record([row("t", 0.001)] * size)
    assert stats.latency_count == 2


def test_a_bad_timestamp_is_skipped_not_raised() -> None:
    stats = DeliveryStats(sample_every=1)
    stats.record([entry("t", "yesterday", "1.0"), entry("t", "", "x")])
    assert stats.latency_count == 0
    assert stats.by_type["t"] == 2
