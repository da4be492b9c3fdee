"""The listener's token source: it only ever needs the app token (conduit endpoints).

Websocket sockets carry no token, and the reconciler creates subscriptions, so user tokens
never pass through the listener. The app token comes from client credentials, cached until
shortly before it expires or until Helix rejects it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from kiss.auth.oauth import Grant
from kiss.errors import TokenError


class ClientCredentials(Protocol):
    def client_credentials(self) -> Grant: ...


class AppTokenProvider:
    def __init__(
        self,
        oauth: ClientCredentials,
        *,
        margin_seconds: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._oauth = oauth
        self._margin = margin_seconds
        self._clock = clock
        self._token: str | None = None
        self._expires_at: float | None = None
        self._lock = threading.Lock()

    def app_token(self) -> str:
        with self._lock:
            now = self._clock()
            stale = self._expires_at is not None and now >= self._expires_at - self._margin
            if self._token is None or stale:
                grant = self._oauth.client_credentials()
                self._token = grant.access_token
                self._expires_at = now + grant.expires_in if grant.expires_in else None
            return self._token

    def user_token(self, user_id: str) -> str:
        raise TokenError(f"the listener holds no user tokens (asked for {user_id})")

    def invalidate(self, token: str) -> None:
        with self._lock:
            if token == self._token:
                self._token = None
