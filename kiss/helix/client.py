"""The Helix HTTP client: every call through the shared rate limiter, answers as typed errors.

    200-299            HelixResponse
    401                the token is invalidated and the call retried once with a fresh one
    429 rate limit     (Ratelimit-Remaining 0) the shared bucket blocks until the reset, retried
    429 otherwise      QuotaExceeded: a placement failure, never a retry loop (twitchdev#958)
    5xx, timeout       retried with jittered backoff, then TransientHelixError
    other 4xx          PermanentHelixError with Twitch's message

Statuses listed in ``expect`` come back as a response instead (a 409 on create is a success).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import redis
import requests

from kiss.auth.provider import Principal, TokenProvider, resolve
from kiss.backoff import backoff
from kiss.errors import PermanentHelixError, QuotaExceeded, TransientHelixError, unreachable
from kiss.helix import metrics
from kiss.helix.config import HelixConfig
from kiss.helix.ratelimit import RateLimiter, RateLimitHeaders
from kiss.keys import Keys

__all__ = ["Guarded", "HelixClient", "HelixResponse", "Principal", "Requester", "is_rate_limit"]

log = logging.getLogger(__name__)

TIMEOUT = (3.05, 10.0)
_QUOTA_PHRASES = ("maximum subscriptions", "transports limit", "total cost", "conduit limit")


@dataclass(frozen=True, slots=True)
class HelixResponse:
    status: int
    body: Any
    headers: Mapping[str, str]


def is_rate_limit(message: str, headers: RateLimitHeaders | None) -> bool:
    """A 429 is a rate limit only if the bucket is empty; Create also uses 429 for quotas."""
    if any(phrase in message.lower() for phrase in _QUOTA_PHRASES):
        return False
    return headers is None or headers.remaining <= 0


def _message(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        message = body.get("message") or body.get("error")
        if isinstance(message, str) and message:
            return message
    return fallback


def _endpoint(path: str) -> str:
    return path.split("?", 1)[0].rstrip("/") or "/"


class Requester(Protocol):
    """What the endpoint modules need of a Helix client (``HelixClient``, ``Guarded``)."""

    def request(
        self,
        method: str,
        path: str,
        *,
        principal: Principal,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        expect: Collection[int] = (),
    ) -> HelixResponse: ...


class HelixClient:
    """``request(method, path, *, principal, ...)`` against ``config.helix_url``."""

    def __init__(
        self,
        config: HelixConfig,
        redis_client: redis.Redis,
        token_provider: TokenProvider,
        *,
        keys: Keys | None = None,
        session: requests.Session | None = None,
        retries: int = 3,
        rate_limit_retries: int = 3,
        backoff_base: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = config.helix_url
        self.client_id = config.client_id
        self.tokens = token_provider
        self.retries = retries
        self.rate_limit_retries = rate_limit_retries
        self.backoff_base = backoff_base
        self._config = config
        self._redis = redis_client
        self._keys = keys or Keys(config.key_prefix)
        self._session = session or requests.Session()
        self._sleep = sleep
        self._limiters: dict[Principal, RateLimiter] = {}

    def limiter(self, principal: Principal) -> RateLimiter:
        """The shared bucket of ``token``: app calls per client id, user calls per user."""
        limiter = self._limiters.get(principal)
        if limiter is None:
            limiter = RateLimiter(
                self._redis,
                self._keys.rate_bucket(self.client_id, principal.user_id),
                rate_per_s=self._config.req_rate_per_s,
                jitter_ms=self._config.req_jitter_ms,
                sleep=self._sleep,
            )
            self._limiters[principal] = limiter
        return limiter

    def close(self) -> None:
        self._session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        principal: Principal,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        expect: Collection[int] = (),
        before_send: Callable[[], None] | None = None,
    ) -> HelixResponse:
        """One call, retried as the module docstring says. ``before_send`` runs before every
        attempt, after its rate-limit wait: it raises to send nothing more (a lost lock)."""
        method = method.upper()
        delays = backoff(self.backoff_base, self.backoff_base * 2 ** max(0, self.retries - 1))
        failures = 0
        rate_limited = 0
        refreshed = False
        while True:
            try:
                response = self._send(method, path, principal, params, json, before_send)
            except TransientHelixError:
                failures += 1
                if failures > self.retries:
                    raise
                self._sleep(next(delays))
                continue
            if response.status == 401 and not refreshed:
                refreshed = True
                continue  # _send invalidated its token; the provider hands out a fresh one
            if response.status == 429 and response.status not in expect:
                message = _message(response.body, "Too Many Requests")
                if not is_rate_limit(message, RateLimitHeaders.parse(response.headers)):
                    raise QuotaExceeded(429, message, method=method, path=path)
                rate_limited += 1
                if rate_limited > self.rate_limit_retries:
                    raise TransientHelixError(429, message, method=method, path=path)
                continue  # _send blocked the shared bucket until the reset
            if response.status >= 500 and response.status not in expect:
                failures += 1
                if failures > self.retries:
                    raise TransientHelixError(
                        response.status,
                        _message(response.body, "server error"),
                        method=method,
                        path=path,
                    )
                self._sleep(next(delays))
                continue
            if 200 <= response.status < 300 or response.status in expect:
                return response
            raise PermanentHelixError(
                response.status,
                _message(response.body, f"HTTP {response.status}"),
                method=method,
                path=path,
            )

    def _send(
        self,
        method: str,
        path: str,
        principal: Principal,
        params: Mapping[str, Any] | None,
        json: Any,
        before_send: Callable[[], None] | None = None,
    ) -> HelixResponse:
        access_token = resolve(self.tokens, principal)
        limiter = self.limiter(principal)
        limiter.acquire()
        if before_send is not None:
            before_send()
        headers = {"Authorization": f"Bearer {access_token}", "Client-Id": self.client_id}
        data = None
        if json is not None:
            data = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        endpoint = _endpoint(path)
        try:
            raw = self._session.request(
                method,
                f"{self.base_url}/{path.lstrip('/')}",
                params=params,
                data=data,
                headers=headers,
                timeout=TIMEOUT,
            )
        except requests.RequestException as error:
            metrics.HELIX_REQUESTS.labels(method, endpoint, "0").inc()
            url = f"{self.base_url}/{path.lstrip('/')}"
            raise TransientHelixError(
                0, unreachable(url, error), method=method, path=path
            ) from error
        metrics.HELIX_REQUESTS.labels(method, endpoint, str(raw.status_code)).inc()
        body = self._decode(raw)
        response = HelixResponse(raw.status_code, body, dict(raw.headers))
        self._observe(limiter, principal, response)
        if raw.status_code == 401:
            log.info("Helix %s %s: 401 with the %s; invalidating it", method, endpoint, principal)
            self.tokens.invalidate(access_token)
        return response

    def _observe(self, limiter: RateLimiter, principal: Principal, response: HelixResponse) -> None:
        headers = RateLimitHeaders.parse(response.headers)
        if headers is None:
            return
        rate_limited = response.status == 429 and is_rate_limit(
            _message(response.body, ""), headers
        )
        if rate_limited:
            metrics.HELIX_RATE_LIMITED.inc()
            log.warning("Helix rate limit hit for the %s; waiting for its reset", principal)
        limiter.observe(headers, rate_limited=rate_limited)
        metrics.RATELIMIT_HEADROOM.labels(limiter.key).set(headers.remaining)

    @staticmethod
    def _decode(raw: requests.Response) -> Any:
        if not raw.content:
            return None
        try:
            return orjson.loads(raw.content)
        except orjson.JSONDecodeError:
            return {"message": raw.text[:500]}


class Guarded:
    """A ``HelixClient`` whose every attempt first calls ``guard`` (after its rate-limit wait):
    a reconciliation that lost its lock sends nothing more, even from a thread that slept."""

    def __init__(self, client: HelixClient, guard: Callable[[], None]) -> None:
        self.client = client
        self.guard = guard

    def request(
        self,
        method: str,
        path: str,
        *,
        principal: Principal,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        expect: Collection[int] = (),
    ) -> HelixResponse:
        return self.client.request(
            method, path, principal=principal, params=params, json=json, expect=expect,
            before_send=self.guard,
        )  # fmt: skip
