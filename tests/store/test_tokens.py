from __future__ import annotations

from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from kiss.store import tokens
from kiss.store.crypto import TokenCipher
from kiss.store.models import StoredToken

CIPHER = TokenCipher([Fernet.generate_key()])


def test_tokens_are_encrypted_at_rest(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        tokens.save_token(
            session,
            CIPHER,
            kind="user",
            user_id="1",
            login="alice",
            scopes=["b", "a"],
            access_token="acc-secret",
            refresh_token="ref-secret",
        )
    with sessions() as session:
        row = session.scalars(select(StoredToken)).one()
        assert "acc-secret" not in row.access_token
        assert row.refresh_token is not None and "ref-secret" not in row.refresh_token
        secrets = tokens.load_secrets(session, CIPHER, "user", "1")
        assert secrets is not None
        assert (secrets.access_token, secrets.refresh_token) == ("acc-secret", "ref-secret")
        assert secrets.scopes == {"a", "b"}


def test_listing_has_no_secrets(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        tokens.save_token(session, CIPHER, kind="app", access_token="app-secret")
        tokens.save_token(session, CIPHER, kind="user", user_id="1", access_token="u-secret")
        tokens.mark_invalid(session, "user", "1", "Invalid refresh token")
    with sessions() as session:
        listed = tokens.list_tokens(session)
        assert [(t.kind, t.user_id, t.status) for t in listed] == [
            ("app", "", "valid"),
            ("user", "1", "invalid"),
        ]
        assert "secret" not in repr(listed)
        assert tokens.invalid_users(session) == {"1": "Invalid refresh token"}


def test_saving_again_replaces_and_revalidates(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        tokens.save_token(session, CIPHER, kind="user", user_id="1", access_token="old")
        tokens.mark_invalid(session, "user", "1", "expired")
        tokens.save_token(session, CIPHER, kind="user", user_id="1", access_token="new")
    with sessions() as session:
        assert tokens.token_status(session, "user", "1") == ("valid", "")
        secrets = tokens.load_secrets(session, CIPHER, "user", "1")
        assert secrets is not None and secrets.access_token == "new"
    with sessions.begin() as session:
        assert tokens.delete_token(session, "user", "1")
        assert not tokens.delete_token(session, "user", "1")
