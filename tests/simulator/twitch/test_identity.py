"""Clients, users, tokens, authorizations and device codes, without HTTP."""

from __future__ import annotations

import pytest

from kiss.simulator.twitch.identity import Identity
from kiss.simulator.twitch.problems import TwitchProblem


@pytest.fixture
def identity() -> Identity:
    identity = Identity()
    identity.add_client("app", "secret-secret")
    return identity


def test_user_tokens_record_authorization_and_expire(identity: Identity) -> None:
    token = identity.mint("app", "42", ["bits:read"], lifetime=10, now=100)
    assert identity.has_authorized("app", "42") and identity.granted("app", "42") == {"bits:read"}
    assert identity.validate(token.access_token, now=109.9) is token
    with pytest.raises(TwitchProblem) as problem:
        identity.validate(token.access_token, now=110)
    assert problem.value.status == 401
    assert token.expires_in(now=105) == 5


def test_app_tokens_have_no_user_or_refresh(identity: Identity) -> None:
    token = identity.client_credentials("app", "secret-secret", lifetime=10, now=0)
    assert token.is_app and token.refresh_token is None
    with pytest.raises(TwitchProblem, match="invalid client secret"):
        identity.client_credentials("app", "wrong", lifetime=10, now=0)
    with pytest.raises(TwitchProblem, match="invalid client"):
        identity.client_credentials("nope", "x", lifetime=10, now=0)


def test_refresh_rotates(identity: Identity) -> None:
    first = identity.mint("app", "42", ["a"], lifetime=10, now=0)
    assert first.refresh_token is not None
    second = identity.refresh("app", "secret-secret", first.refresh_token, lifetime=10, now=5)
    assert second.refresh_token != first.refresh_token and second.scopes == {"a"}
    with pytest.raises(TwitchProblem, match="Invalid refresh token"):
        identity.refresh("app", None, first.refresh_token, lifetime=10, now=5)


def test_device_flow(identity: Identity) -> None:
    code = identity.start_device("app", ["user:bot"], lifetime=100, now=0)
    with pytest.raises(TwitchProblem, match="authorization_pending"):
        identity.poll_device("app", code.device_code, lifetime=10, now=1)
    identity.approve_device(code.user_code, "42")
    token = identity.poll_device("app", code.device_code, lifetime=10, now=2)
    assert token.user_id == "42" and token.scopes == {"user:bot"}
    late = identity.start_device("app", [], lifetime=100, now=0)
    with pytest.raises(TwitchProblem, match="expired_token"):
        identity.poll_device("app", late.device_code, lifetime=10, now=100)


def test_bearer_checks_scheme_token_and_client(identity: Identity) -> None:
    token = identity.mint("app", None, [], lifetime=10, now=0)
    assert identity.bearer(f"Bearer {token.access_token}", "app", now=1) is token
    for header, client, message in [
        (None, "app", "OAuth token is missing"),
        ("Basic abc", "app", "Invalid OAuth token"),
        ("Bearer nope", "app", "Invalid OAuth token"),
        (f"Bearer {token.access_token}", None, "Client ID is missing"),
        (f"Bearer {token.access_token}", "other", "Client ID and OAuth token do not match"),
    ]:
        with pytest.raises(TwitchProblem) as problem:
            identity.bearer(header, client, now=1)
        assert (problem.value.status, problem.value.message) == (401, message)


def test_users_by_login(identity: Identity) -> None:
    user = identity.add_user("Someone")
    assert identity.add_user("someone") is user and identity.user_by_login("SOMEONE") is user
    with pytest.raises(TwitchProblem, match="login"):
        identity.add_user("")
