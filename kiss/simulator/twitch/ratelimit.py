"""Helix's rate limit: a token bucket of points per client id (app) or client id + user."""

from __future__ import annotations

import math
from dataclasses import dataclass

from kiss.simulator.twitch.identity import Token


def bucket_key(token: Token) -> str:
    """App tokens share one bucket per client id; user tokens one per client id + user."""
    return token.client_id if token.is_app else f"{token.client_id}:{token.user_id}"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # Unix epoch seconds when the bucket is full again

    def headers(self) -> dict[str, str]:
        return {
            "Ratelimit-Limit": str(self.limit),
            "Ratelimit-Remaining": str(self.remaining),
            "Ratelimit-Reset": str(self.reset),
        }


@dataclass
class _Bucket:
    points: float
    updated: float


class RateLimiter:
    """Refills continuously at ``points / window`` per second; time is an argument."""

    def __init__(self, points: int, window: float) -> None:
        self.points = points
        self.window = window
        self._buckets: dict[str, _Bucket] = {}

    def _bucket(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.points), now)
        rate = self.points / self.window
        bucket.points = min(float(self.points), bucket.points + (now - bucket.updated) * rate)
        bucket.updated = now
        return bucket

    def _verdict(self, bucket: _Bucket, allowed: bool, now: float) -> Verdict:
        missing = self.points - bucket.points
        reset = math.ceil(now + missing * self.window / self.points)
        return Verdict(allowed, self.points, int(bucket.points), reset)

    def take(self, key: str, now: float, cost: int = 1) -> Verdict:
        bucket = self._bucket(key, now)
        if bucket.points < cost:
            return self._verdict(bucket, False, now)
        bucket.points -= cost
        return self._verdict(bucket, True, now)

    def peek(self, key: str, now: float) -> Verdict:
        return self._verdict(self._bucket(key, now), True, now)

    def drain(self, key: str, now: float) -> Verdict:
        """Empty a bucket (fault injection: the next calls get 429 until it refills)."""
        bucket = self._bucket(key, now)
        bucket.points = 0.0
        return self._verdict(bucket, False, now)
