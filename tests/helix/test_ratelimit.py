from __future__ import annotations

import redis

from kiss.helix.ratelimit import RateLimiter, RateLimitHeaders
from kiss.keys import Keys


def _limiter(client: redis.Redis, keys: Keys, **kwargs: object) -> RateLimiter:
    waits: list[float] = []
    limiter = RateLimiter(
        client,
        keys.rate_bucket("client"),
        sleep=waits.append,
        uniform=lambda low, high: high,
        **{"margin": 0.0, **kwargs},  # type: ignore[arg-type]
    )
    return limiter


def test_initial_points_are_free_then_slots_follow_the_refill(
    redis_client: redis.Redis, keys: Keys
) -> None:
    limiter = _limiter(redis_client, keys, rate_per_s=10_000, default_limit=5, window_seconds=5)
    assert [round(limiter.reserve(), 2) for _ in range(5)] == [0.0] * 5
    waits = [limiter.reserve() for _ in range(3)]
    # One point per second: the 6th, 7th and 8th calls get slots about 1, 2 and 3 s ahead.
    assert [round(w) for w in waits] == [1, 2, 3]


def test_safety_margin_keeps_points_unused(redis_client: redis.Redis, keys: Keys) -> None:
    limiter = _limiter(redis_client, keys, rate_per_s=10_000, default_limit=100, margin=0.1)
    free = [round(limiter.reserve(), 2) for _ in range(90)]
    assert free == [0.0] * 90
    # The refill stays at 100 points a minute: the next slot is about 0.6 s ahead.
    assert 0.55 < limiter.reserve() < 0.65


def test_pace_spaces_requests_even_with_points_left(redis_client: redis.Redis, keys: Keys) -> None:
    limiter = _limiter(redis_client, keys, rate_per_s=4)
    waits = [limiter.reserve() for _ in range(4)]
    assert waits[0] == 0.0
    assert [round(w, 1) for w in waits[1:]] == [0.2, 0.5, 0.7]


def test_acquire_sleeps_the_wait_plus_jitter(redis_client: redis.Redis, keys: Keys) -> None:
    slept: list[float] = []
    limiter = RateLimiter(
        redis_client,
        keys.rate_bucket("client"),
        rate_per_s=2,
        jitter_ms=100,
        sleep=slept.append,
        uniform=lambda low, high: high,
    )
    assert limiter.acquire() == 0.0
    assert slept == []
    waited = limiter.acquire()
    assert slept == [waited]
    assert 0.5 < waited <= 0.6 + 0.01


def test_observe_lowers_tokens_to_what_twitch_reports(
    redis_client: redis.Redis, keys: Keys
) -> None:
    limiter = _limiter(redis_client, keys, rate_per_s=10_000, default_limit=800)
    limiter.reserve()
    limiter.observe(RateLimitHeaders(limit=800, remaining=3, reset=None))
    assert 2.9 < limiter.headroom() < 3.5
    assert [round(limiter.reserve(), 2) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.reserve() > 0.05


def test_a_rate_limit_blocks_every_sharer_until_the_reset(
    redis_client: redis.Redis, keys: Keys
) -> None:
    first = _limiter(redis_client, keys, rate_per_s=10_000)
    second = _limiter(redis_client, keys, rate_per_s=10_000)
    now = float(redis_client.time()[0])
    first.observe(RateLimitHeaders(limit=800, remaining=0, reset=now + 30), rate_limited=True)
    assert 28 < second.reserve() < 31


def test_headers_parse_case_insensitively_and_reject_garbage() -> None:
    parsed = RateLimitHeaders.parse(
        {"ratelimit-limit": "800", "Ratelimit-Remaining": "799", "RateLimit-Reset": "17"}
    )
    assert parsed == RateLimitHeaders(800, 799, 17.0)
    assert RateLimitHeaders.parse({"Ratelimit-Limit": "x", "Ratelimit-Remaining": "1"}) is None
    assert RateLimitHeaders.parse({}) is None
