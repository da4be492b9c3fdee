from __future__ import annotations

from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from kiss.auth.oauth import OAuthClient
from kiss.auth.store_provider import StoredTokenProvider
from kiss.auth.validation import validate_all
from kiss.simulator.testing import SimulatorControl
from kiss.store import tokens as store
from kiss.store.crypto import TokenCipher
from tests.auth.stored import save_user_token

CIPHER = TokenCipher([Fernet.generate_key()])


def test_validation_updates_renews_and_marks(
    sessions: sessionmaker[Session], control: SimulatorControl, oauth: OAuthClient
) -> None:
    good = control.token(client_id=oauth.client_id, user_id="1", scopes=["bits:read"])
    stale = control.token(client_id=oauth.client_id, user_id="2")
    dead = control.token(client_id=oauth.client_id, user_id="3")
    control.expire_token(stale["access_token"])
    control.expire_token(dead["access_token"])
    oauth.refresh(dead["refresh_token"])  # its refresh token is used up
    with sessions.begin() as session:
        for user, minted in (("1", good), ("2", stale), ("3", dead)):
            save_user_token(session, CIPHER, user, minted)
    provider = StoredTokenProvider(sessions, CIPHER, oauth)
    report = validate_all(sessions, CIPHER, oauth, provider)
    assert report.valid == ["user:1"]
    assert report.renewed == ["user:2"]
    assert list(report.invalid) == ["user:3"]
    with sessions() as session:
        listed = {t.user_id: t for t in store.list_tokens(session)}
    assert listed["1"].scopes == ("bits:read",) and listed["1"].validated_at is not None
    assert listed["2"].status == "valid"
    assert listed["3"].status == "invalid"


def test_an_oauth_outage_marks_nothing_invalid(
    sessions: sessionmaker[Session], control: SimulatorControl, oauth: OAuthClient
) -> None:
    minted = control.token(client_id=oauth.client_id, user_id="1", scopes=["bits:read"])
    with sessions.begin() as session:
        save_user_token(session, CIPHER, "1", minted)
    provider = StoredTokenProvider(sessions, CIPHER, oauth)
    control.fault("/oauth2/validate", status=500, count=1)
    report = validate_all(sessions, CIPHER, oauth, provider)
    assert (report.valid, report.invalid) == ([], {})
    assert "500" in report.unchecked["user:1"]
    with sessions() as session:
        (token,) = store.list_tokens(session)
    assert token.status == "valid"
    assert validate_all(sessions, CIPHER, oauth, provider).valid == ["user:1"]
