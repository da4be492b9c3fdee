"""Refused frames: counted by kind, one log line per kind per interval carrying the count."""

from __future__ import annotations

import logging

import pytest

from kiss.listener.refusals import DETAIL_CHARS, KINDS, Refusals


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name.startswith("kiss")]


def test_each_kind_is_logged_once_per_interval_with_the_count_since_its_last_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    refusals = Refusals(interval=60.0, clock=clock)
    with caplog.at_level(logging.WARNING):
        for _ in range(1000):
            refusals.refuse("bad_channel_id", "channel id '../../etc' is not decimal digits")
            refusals.refuse("binary_frame", "a binary message", "conduit:C:shard:0")
        assert len(lines(caplog)) == 2  # one per kind, however many frames
        first = lines(caplog)[1]
        assert first.startswith("conduit:C:shard:0: refused a frame (binary_frame)")
        clock.now += 61
        refusals.refuse("bad_channel_id", "channel id 'x' is not decimal digits")
    assert refusals.counts["bad_channel_id"] == 1001
    assert refusals.counts["binary_frame"] == 1000
    assert refusals.total() == 2001
    assert len(lines(caplog)) == 3
    assert "refused 1000 frame(s) in the last 61 s (bad_channel_id)" in lines(caplog)[2]


def test_a_long_detail_is_cut_and_an_unknown_kind_still_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refusals = Refusals()
    with caplog.at_level(logging.WARNING):
        refusals.refuse("no-such-kind", "x" * 1_000_000)
    assert set(refusals.counts) == set(KINDS)  # the memory is the fixed set of kinds
    assert refusals.counts["malformed"] == 1
    assert len(lines(caplog)[0]) < DETAIL_CHARS + 200


def test_a_contained_error_names_its_type_and_the_line_that_raised_it_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    refusals = Refusals()
    empty: dict[str, int] = {}
    try:
        empty["missing"]
    except KeyError as error:
        with caplog.at_level(logging.WARNING):
            refusals.contain(error, "conduit:C:shard:0 #1")
    (record,) = [r for r in caplog.records if r.name.startswith("kiss")]
    assert record.exc_info is None
    assert "(handler_error): KeyError: 'missing' at " in record.getMessage()
    assert "test_refusals.py" in record.getMessage()
    assert refusals.counts["handler_error"] == 1
