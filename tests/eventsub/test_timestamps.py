from __future__ import annotations

import pytest

from kiss.errors import MalformedMessage
from kiss.eventsub.timestamps import format_epoch, format_timestamp, parse_timestamp


def test_format_writes_nanoseconds_like_twitch() -> None:
    assert format_timestamp(1_689_778_611_634_234_626) == "2023-07-19T14:56:51.634234626Z"


def test_round_trip_keeps_sub_microsecond_order() -> None:
    earlier = parse_timestamp(format_timestamp(1_700_000_000_000_000_001))
    later = parse_timestamp(format_timestamp(1_700_000_000_000_100_000))
    assert earlier < later


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2023-07-19T14:56:51Z", 1_689_778_611.0),
        ("2023-07-19T16:56:51.5+02:00", 1_689_778_611.5),
        ("2023-07-19t14:56:51.25z", 1_689_778_611.25),
    ],
)
def test_parse_accepts_rfc3339_variants(text: str, epoch: float) -> None:
    assert parse_timestamp(text) == pytest.approx(epoch)


@pytest.mark.parametrize("text", ["", "2023-07-19", "2023-13-19T14:56:51Z", "2023-07-19T25:00:00Z"])
def test_parse_rejects_non_timestamps(text: str) -> None:
    with pytest.raises(MalformedMessage, match="RFC3339"):
        parse_timestamp(text)


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-30T00:00:00Z",
        "2025-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "0000-01-01T00:00:00Z",
    ],
)
def test_parse_rejects_days_that_do_not_exist(text: str) -> None:
    with pytest.raises(MalformedMessage, match="RFC3339") as refused:
        parse_timestamp(text)
    assert refused.value.kind == "bad_timestamp"


def test_a_huge_non_timestamp_is_named_briefly() -> None:
    with pytest.raises(MalformedMessage) as refused:
        parse_timestamp("9" * 1_000_000)
    assert len(str(refused.value)) < 100


def test_leap_days_exist_in_leap_years() -> None:
    assert parse_timestamp("2024-02-29T00:00:00Z") == 1_709_164_800.0


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (1767225600.25, "2026-01-01T00:00:00.250000000Z"),
        (0.0, "1970-01-01T00:00:00.000000000Z"),
        (1764100000.5, "2025-11-25T19:46:40.500000000Z"),
    ],
)
def test_format_epoch_keeps_the_fraction(seconds: float, text: str) -> None:
    assert format_epoch(seconds) == text
    assert parse_timestamp(text) == pytest.approx(seconds, abs=1e-6)
