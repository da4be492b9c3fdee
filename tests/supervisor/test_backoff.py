from __future__ import annotations

import pytest

from kiss.supervisor.backoff import CrashHistory, RestartPolicy

POLICY = RestartPolicy(base=1.0, factor=2.0, maximum=10.0, stable_after=30.0)


@pytest.mark.parametrize(
    ("crashes", "delay"),
    [(0, 0.0), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (50, 10.0)],
)
def test_delay_grows_exponentially_up_to_the_cap(crashes: int, delay: float) -> None:
    assert POLICY.delay(crashes) == delay


def test_quick_crashes_in_a_row_back_off() -> None:
    history = CrashHistory(POLICY)
    delays = [history.record_exit(started_at=t, exited_at=t + 1) for t in (0, 10, 20)]
    assert delays == [1.0, 2.0, 4.0]


def test_a_stable_run_resets_the_backoff() -> None:
    history = CrashHistory(POLICY)
    history.record_exit(started_at=0, exited_at=1)
    history.record_exit(started_at=2, exited_at=3)
    assert history.record_exit(started_at=10, exited_at=100) == 1.0
    assert history.consecutive == 1
