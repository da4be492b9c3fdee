"""The token bucket: points, refill, headers (time is an argument)."""

from __future__ import annotations

from kiss.simulator.twitch.identity import Token
from kiss.simulator.twitch.ratelimit import RateLimiter, bucket_key


def test_bucket_empties_then_refills() -> None:
    limiter = RateLimiter(points=3, window=60.0)
    verdicts = [limiter.take("c", now=1000.0) for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert [v.remaining for v in verdicts] == [2, 1, 0, 0]
    assert verdicts[-1].reset == 1060  # three points at one per 20 s
    assert limiter.take("c", now=1019.0).allowed is False
    refilled = limiter.take("c", now=1020.0)
    assert refilled.allowed and refilled.remaining == 0
    assert limiter.peek("c", now=1080.0).remaining == 3  # never above the bucket size


def test_buckets_are_per_key() -> None:
    limiter = RateLimiter(points=1, window=60.0)
    assert limiter.take("client:user-a", 0.0).allowed
    assert not limiter.take("client:user-a", 0.0).allowed
    assert limiter.take("client:user-b", 0.0).allowed


def test_headers_and_drain() -> None:
    limiter = RateLimiter(points=800, window=60.0)
    headers = limiter.take("c", 100.0).headers()
    assert headers == {
        "Ratelimit-Limit": "800",
        "Ratelimit-Remaining": "799",
        "Ratelimit-Reset": "101",
    }
    drained = limiter.drain("c", 100.0)
    assert drained.remaining == 0 and not limiter.take("c", 100.0).allowed


def test_app_tokens_share_a_bucket_per_client_user_tokens_per_client_and_user() -> None:
    def token(user_id: str | None) -> Token:
        return Token(f"at-{user_id}", "c", user_id, frozenset(), 0.0)

    assert bucket_key(token(None)) == "c"
    assert bucket_key(token("1001")) == "c:1001"
    assert bucket_key(token("1001")) != bucket_key(token("1002"))
