from __future__ import annotations

import pytest

from kiss.auth.oauth import Grant
from kiss.errors import TokenError
from kiss.listener.app_token import AppTokenProvider


class Issuer:
    """Counts grants; stands in for the OAuth endpoint, which the listener tests use for real."""

    def __init__(self, expires_in: int | None = 3600) -> None:
        self.issued = 0
        self.expires_in = expires_in

    def client_credentials(self) -> Grant:
        self.issued += 1
        return Grant(f"token-{self.issued}", None, self.expires_in, ())


def test_token_is_cached_until_near_expiry() -> None:
    now = [1000.0]
    issuer = Issuer(expires_in=3600)
    provider = AppTokenProvider(issuer, margin_seconds=300, clock=lambda: now[0])
    assert provider.app_token() == "token-1"
    now[0] += 3000
    assert provider.app_token() == "token-1"
    now[0] += 301
    assert provider.app_token() == "token-2"


def test_invalidated_token_is_fetched_again() -> None:
    provider = AppTokenProvider(Issuer())
    first = provider.app_token()
    provider.invalidate("something-else")
    assert provider.app_token() == first
    provider.invalidate(first)
    assert provider.app_token() != first


def test_user_tokens_are_not_the_listeners_business() -> None:
    with pytest.raises(TokenError, match="no user tokens"):
        AppTokenProvider(Issuer()).user_token("42")
