"""When to restart a crashed process: exponential backoff that resets after a stable run.

Pure: the caller passes the times, so the policy is tested from a table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RestartPolicy:
    base: float = 1.0
    factor: float = 2.0
    maximum: float = 30.0
    # A run that lasted this long counts as healthy: the next crash starts from ``base`` again.
    stable_after: float = 30.0

    def delay(self, consecutive_crashes: int) -> float:
        """Seconds to wait before the restart that follows the n-th crash in a row (n >= 1)."""
        if consecutive_crashes < 1:
            return 0.0
        return min(self.maximum, self.base * self.factor ** (consecutive_crashes - 1))


@dataclass
class CrashHistory:
    """Counts the crashes in a row of one process."""

    policy: RestartPolicy
    consecutive: int = 0

    def record_exit(self, started_at: float, exited_at: float) -> float:
        """Note an unexpected exit; return how long to wait before starting again."""
        if exited_at - started_at >= self.policy.stable_after:
            self.consecutive = 0
        self.consecutive += 1
        return self.policy.delay(self.consecutive)
