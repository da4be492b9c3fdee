"""Issue 11, "websocket transport quota": five 4006 closes within a minute."""

from __future__ import annotations

from pathlib import Path

from tests.faults.ws_quota import repeated_closes
from tests.redis_server import PrivateRedis


def test_repeated_unplanned_closes_never_reach_twitchs_type_condition_limit(
    private_redis: PrivateRedis, tmp_path: Path
) -> None:
    figures = repeated_closes(private_redis.url, tmp_path, closes=5, within=30.0)
    print("websocket_4006:", figures)
    assert figures["closes_within_seconds"] < 60
    assert figures["all_back_after_each"], figures["recovery_seconds"]
    assert figures["quota_429s"] == 0
    # The disabled ones each close leaves are deleted as they are replaced.
    assert figures["peak_listed_per_type_condition"] <= 2
