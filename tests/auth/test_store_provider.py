from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from kiss.auth.oauth import OAuthClient
from kiss.auth.store_provider import StoredTokenProvider
from kiss.errors import OAuthUnavailable, TokenError
from kiss.simulator.testing import SimulatorControl
from kiss.store import tokens as store
from kiss.store.crypto import TokenCipher
from tests.auth.stored import save_user_token

CIPHER = TokenCipher([Fernet.generate_key()])


def store_user(
    sessions: sessionmaker[Session],
    control: SimulatorControl,
    oauth: OAuthClient,
    expires_in: float = 3600,
) -> dict[str, str]:
    minted = control.token(client_id=oauth.client_id, user_id="42", scopes=["bits:read"])
    with sessions.begin() as session:
        save_user_token(
            session,
            CIPHER,
            "42",
            minted,
            scopes=["bits:read"],
            expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
        )
    return minted


def test_app_token_is_fetched_once_and_stored_encrypted(
    sessions: sessionmaker[Session], oauth: OAuthClient
) -> None:
    provider = StoredTokenProvider(sessions, CIPHER, oauth)
    token = provider.app_token()
    assert provider.app_token() == token
    with sessions() as session:
        secrets = store.load_secrets(session, CIPHER, "app")
    assert secrets is not None and secrets.access_token == token
    fresh = StoredTokenProvider(sessions, CIPHER, oauth)  # another worker: reads the store
    assert fresh.app_token() == token


def test_user_token_is_refreshed_before_expiry_keeping_the_rotation(
    sessions: sessionmaker[Session], control: SimulatorControl, oauth: OAuthClient
) -> None:
    minted = store_user(sessions, control, oauth, expires_in=30)  # inside the 60 s margin
    provider = StoredTokenProvider(sessions, CIPHER, oauth)
    token = provider.user_token("42")
    assert token != minted["access_token"]
    assert oauth.validate(token).user_id == "42"
    with sessions() as session:
        secrets = store.load_secrets(session, CIPHER, "user", "42")
    assert secrets is not None and secrets.refresh_token not in (None, minted["refresh_token"])


def test_a_401_invalidates_and_the_next_call_refreshes(
    sessions: sessionmaker[Session], control: SimulatorControl, oauth: OAuthClient
) -> None:
    minted = store_user(sessions, control, oauth)
    provider = StoredTokenProvider(sessions, CIPHER, oauth)
    assert provider.user_token("42") == minted["access_token"]
    provider.invalidate(minted["access_token"])
    renewed = provider.user_token("42")
    assert renewed != minted["access_token"]
    assert oauth.validate(renewed).user_id == "42"


def test_unrefreshable_token_is_marked_and_raises(
    sessions: sessionmaker[Session], control: SimulatorControl, oauth: OAuthClient
) -> None:
    minted = store_user(sessions, control, oauth)
    oauth.refresh(minted["refresh_token"])  # someone used the single-use refresh token
    provider = StoredTokenProvider(sessions, CIPHER, oauth)
    provider.invalidate(provider.user_token("42"))
    with pytest.raises(TokenError, match="cannot be refreshed"):
        provider.user_token("42")
    with sessions() as session:
        status = store.token_status(session, "user", "42")
    assert status is not None and status[0] == "invalid"
    assert "Invalid refresh token" in status[1]
    with pytest.raises(TokenError, match="invalid"):  # no retry storm: it stays invalid
        StoredTokenProvider(sessions, CIPHER, oauth).user_token("42")


def test_unknown_user_says_how_to_add_one(
    sessions: sessionmaker[Session], oauth: OAuthClient
) -> None:
    with pytest.raises(TokenError, match="kiss auth login"):
        StoredTokenProvider(sessions, CIPHER, oauth).user_token("404")


def test_twitch_failing_to_answer_a_refresh_leaves_the_token_valid(
    sessions: sessionmaker[Session], control: SimulatorControl, oauth: OAuthClient
) -> None:
    store_user(sessions, control, oauth, expires_in=30)  # due for a refresh
    provider = StoredTokenProvider(sessions, CIPHER, oauth)
    control.fault("/oauth2/token", status=503, count=1)
    with pytest.raises(OAuthUnavailable):
        provider.user_token("42")
    with sessions() as session:
        assert store.token_status(session, "user", "42") == ("valid", "")
    assert oauth.validate(provider.user_token("42")).user_id == "42"  # Twitch is back
