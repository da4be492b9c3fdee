"""Issue 11, "bots resume in order": kill -9 of a bot mid-flow, restarted under its name."""

from __future__ import annotations

from pathlib import Path

from tests.faults.bot_kill import kill_and_restart, summary
from tests.redis_server import PrivateRedis


def test_a_killed_bot_restarted_loses_nothing_and_keeps_the_order(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    figures = kill_and_restart(private_redis.url, tmp_path, total=2000, rate=1000, kill_at=800)
    print("bot_killed:", summary(figures))
    assert figures["pending_at_kill"] > 0  # the kill did catch entries in flight
    assert figures["lost_after_socket"] == 0
    assert figures["order_inversions"] == 0
    assert figures["restart_exit_code"] == 0
    # The restarted process is the same consumer, not a second one beside a dead one.
    assert figures["consumers"] == ["faulty@one"]
