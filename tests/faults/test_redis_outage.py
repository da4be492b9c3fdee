"""Redis down while the listener runs (issue 11): nothing that reached the socket is lost.

A steady load through the simulator, Redis stopped for longer than the keepalive deadline
(about 1 s at this time unit) and than the memory queue holds (1,000 entries: 2 s here), then
started again. Also: the listener killed -9 while Redis is down, restarted once it is back.
"""

from __future__ import annotations

from pathlib import Path

from tests.faults.outage import Outage, run_outage


def test_a_redis_outage_loses_nothing_after_the_socket_and_keeps_the_session(
    tmp_path: Path,
) -> None:
    figures = run_outage(Outage(rate=500, before=1.5, outage=5.0, after=1.5), tmp_path)
    print(figures)
    assert figures.spool_peak_entries > 1000, "the outage did not reach the spool"
    assert figures.events_sent > 3000 and figures.lost_at_twitch == 0
    assert figures.lost_after_socket == 0
    assert figures.duplicated == 0
    assert figures.order_inversions == 0
    assert figures.session_kept and figures.sessions_lost_logged == 0, figures.notes["log_tail"]
    assert figures.gap_entries == 0


def test_the_spool_of_a_listener_killed_during_an_outage_is_written_after_its_restart(
    tmp_path: Path,
) -> None:
    figures = run_outage(Outage(rate=500, before=0.5, outage=3.0, after=0, kill=True), tmp_path)
    print(figures)
    assert figures.spool_peak_entries > 1000
    assert figures.lost_after_socket == 0, figures.notes["log_tail"]
    assert figures.duplicated == 0
    assert figures.order_inversions == 0
