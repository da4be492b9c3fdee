"""One Helix rate limiter shared by every worker process: a token bucket in Redis.

The bucket mirrors Twitch's (``Ratelimit-Limit`` points, refilled over a minute) and is
further capped at ``req_rate_per_s``. Callers *reserve* a slot atomically (a Lua script on
Redis's own clock), then sleep until it: concurrent workers get distinct slots, so nobody
stampedes and nobody overdraws. Every Helix answer feeds its ``Ratelimit-*`` headers back,
so the bucket follows what Twitch says rather than what we hope.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import redis

DEFAULT_LIMIT = 800
# A fraction of the bucket never spent: room for a few points spent where we cannot see them
# (another process on the same client id, a request counted twice), so a burst cannot run
# Twitch's bucket dry; a rate-limit 429 would cost a wait for the full reset.
SAFETY_MARGIN = 0.01
WINDOW_SECONDS = 60.0
BUCKET_TTL_SECONDS = 3600

# KEYS[1] bucket hash. ARGV: default limit, window s, pace per s, cost, ttl, margin.
# The usable bucket is the limit less the margin (a fraction); it refills at limit/window.
# Fields: tokens (may go negative: reserved ahead), ts (s), limit, next_at (pace slot).
# Returns the seconds to wait before the reserved slot, as a string (Lua numbers truncate).
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'limit', 'next_at')
local limit = tonumber(state[3]) or tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local pace = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local usable = limit * (1 - tonumber(ARGV[6]))
local rate = limit / window
local tokens = tonumber(state[1]) or usable
local ts = tonumber(state[2]) or now
local next_at = tonumber(state[4]) or now
if now > ts then
  tokens = math.min(usable, tokens + (now - ts) * rate)
  ts = now
end
tokens = tokens - cost
local start = math.max(now, next_at)
if tokens < 0 then
  start = math.max(start, now + (-tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts),
  'limit', tostring(limit), 'next_at', tostring(start + 1 / pace))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return tostring(start - now)
"""

# KEYS[1] bucket hash. ARGV: limit, remaining, reset epoch s (or empty), window s,
# blocked (0/1), ttl, margin.
# Lowers our tokens to what Twitch reports; on a rate-limit 429 blocks until the reset.
_OBSERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'limit')
local limit = tonumber(ARGV[1])
local keep = 1 - tonumber(ARGV[7])
local old_limit = tonumber(state[3]) or limit
local window = tonumber(ARGV[4])
local tokens = tonumber(state[1]) or old_limit * keep
local ts = tonumber(state[2]) or now
if now > ts then
  tokens = math.min(old_limit * keep, tokens + (now - ts) * old_limit / window)
  ts = now
end
tokens = math.min(tokens, tonumber(ARGV[2]))
local reset = tonumber(ARGV[3])
if ARGV[5] == '1' and reset and reset > now then
  tokens = math.min(tokens, -(reset - now) * limit / window)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts),
  'limit', tostring(limit))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
return tostring(tokens)
"""


@dataclass(frozen=True, slots=True)
class RateLimitHeaders:
    limit: int
    remaining: int
    reset: float | None

    @classmethod
    def parse(cls, headers: Mapping[str, str]) -> RateLimitHeaders | None:
        """The ``Ratelimit-*`` headers of a Helix answer, or None when absent or garbled."""
        lowered = {name.lower(): value for name, value in headers.items()}
        try:
            limit = int(lowered["ratelimit-limit"])
            remaining = int(lowered["ratelimit-remaining"])
        except (KeyError, ValueError):
            return None
        try:
            reset: float | None = float(lowered["ratelimit-reset"])
        except (KeyError, ValueError):
            reset = None
        return cls(limit, remaining, reset)


class RateLimiter:
    """A Redis token bucket at ``key``, paced at ``rate_per_s``; safe across processes."""

    def __init__(
        self,
        client: redis.Redis,
        key: str,
        *,
        rate_per_s: float,
        jitter_ms: int = 0,
        default_limit: int = DEFAULT_LIMIT,
        window_seconds: float = WINDOW_SECONDS,
        margin: float = SAFETY_MARGIN,
        sleep: Callable[[float], None] = time.sleep,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError(f"rate_per_s must be positive, got {rate_per_s}")
        self.key = key
        self.rate_per_s = rate_per_s
        self.jitter_s = jitter_ms / 1000.0
        self.default_limit = default_limit
        self.window_seconds = window_seconds
        self.margin = margin
        self._redis = client
        self._sleep = sleep
        self._uniform = uniform
        self._reserve = client.register_script(_RESERVE)
        self._observe = client.register_script(_OBSERVE)

    def reserve(self, cost: int = 1) -> float:
        """Take ``cost`` points now; the seconds to wait before using them."""
        args = [
            self.default_limit,
            self.window_seconds,
            self.rate_per_s,
            cost,
            BUCKET_TTL_SECONDS,
            self.margin,
        ]
        return max(0.0, float(self._reserve(keys=[self.key], args=args)))

    def acquire(self, cost: int = 1) -> float:
        """Reserve and wait for the slot; jitter only spreads the wake-ups of those who wait."""
        wait = self.reserve(cost)
        if wait > 0:
            wait += self._uniform(0.0, self.jitter_s)
            self._sleep(wait)
        return wait

    def observe(self, headers: RateLimitHeaders, *, rate_limited: bool = False) -> float:
        """Follow Twitch's view of the bucket; after a rate-limit 429, block until its reset."""
        args: list[str | int | float] = [
            headers.limit,
            headers.remaining,
            "" if headers.reset is None else repr(headers.reset),
            self.window_seconds,
            "1" if rate_limited else "0",
            BUCKET_TTL_SECONDS,
            self.margin,
        ]
        return float(self._observe(keys=[self.key], args=args))

    def headroom(self) -> float:
        """Points left as last recorded (negative while slots are reserved ahead)."""
        value = self._redis.hget(self.key, "tokens")
        return float(value) if value is not None else float(self.default_limit)
