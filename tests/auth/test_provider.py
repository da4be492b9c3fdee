from __future__ import annotations

import pytest

from kiss.auth.provider import Principal, StaticTokenProvider, resolve
from kiss.errors import TokenError


def test_token_names_without_secrets() -> None:
    assert Principal.app().is_app and str(Principal.app()) == "app token"
    assert str(Principal.user("5")) == "user token of 5"
    with pytest.raises(TokenError):
        Principal.user("")


def test_static_provider_serves_and_forgets_invalidated_tokens() -> None:
    provider = StaticTokenProvider(app="a", users={"5": "u5"})
    assert resolve(provider, Principal.app()) == "a"
    assert resolve(provider, Principal.user("5")) == "u5"
    with pytest.raises(TokenError, match="user token for 6"):
        provider.user_token("6")
    provider.invalidate("u5")
    with pytest.raises(TokenError, match="rejected"):
        provider.user_token("5")
