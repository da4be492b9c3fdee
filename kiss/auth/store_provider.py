"""The database-backed ``TokenProvider``: tokens from the store, refreshed before they expire.

A user token is refreshed when it expires within ``refresh_margin`` seconds, or after Twitch
answered 401 (``invalidate``); the rotated refresh token is stored at once. One that cannot be
refreshed is marked invalid (status shows it, its subscriptions stop) and raises TokenError.
The app token is simply fetched again with client credentials.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from kiss.auth.oauth import Grant, OAuthClient
from kiss.errors import OAuthUnavailable, TokenError
from kiss.store import tokens as store
from kiss.store.crypto import TokenCipher

log = logging.getLogger(__name__)

Owner = tuple[str, str]  # (kind, user_id)


class StoredTokenProvider:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        cipher: TokenCipher,
        oauth: OAuthClient,
        *,
        refresh_margin: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._cipher = cipher
        self._oauth = oauth
        self._margin = refresh_margin
        self._clock = clock
        self._cache: dict[Owner, tuple[str, float | None]] = {}
        self._owners: dict[str, Owner] = {}
        self._lock = threading.Lock()

    # -- TokenProvider --------------------------------------------------------------
    def app_token(self) -> str:
        return self._token((store.APP, ""))

    def user_token(self, user_id: str) -> str:
        return self._token((store.USER, user_id))

    def invalidate(self, token: str) -> None:
        with self._lock:
            owner = self._owners.pop(token, None)
        if owner is not None:
            self._expire(owner, token)

    def renew(self, kind: str, user_id: str = "") -> str:
        """Refresh (user) or fetch again (app) now, whatever the expiry says."""
        self._expire((kind, user_id), None)
        return self._token((kind, user_id))

    def _expire(self, owner: Owner, token: str | None) -> None:
        """Forget ``owner``'s access token (only if it is still ``token``, when given)."""
        with self._lock:
            self._cache.pop(owner, None)
        with self._sessions.begin() as session:
            secrets = store.load_secrets(session, self._cipher, *owner)
            if secrets is not None and (token is None or secrets.access_token == token):
                self._save(
                    session,
                    owner,
                    secrets.access_token,
                    secrets.refresh_token,
                    0.0,
                    secrets.scopes,
                )

    # -- internals -------------------------------------------------------------------
    def _fresh(self, expires_at: float | None) -> bool:
        return expires_at is None or expires_at - self._clock() > self._margin

    def _token(self, owner: Owner) -> str:
        with self._lock:
            cached = self._cache.get(owner)
            if cached is not None and self._fresh(cached[1]):
                return cached[0]
            token, expires_at = self._load_or_renew(owner)
            self._cache[owner] = (token, expires_at)
            self._owners[token] = owner
            return token

    def _load_or_renew(self, owner: Owner) -> tuple[str, float | None]:
        kind, user_id = owner
        with self._sessions.begin() as session:
            status = store.token_status(session, kind, user_id)
            secrets = store.load_secrets(session, self._cipher, kind, user_id)
            expires_at = _epoch(secrets.expires_at) if secrets else None
            if secrets is not None and status == ("valid", "") and self._fresh(expires_at):
                return secrets.access_token, expires_at
            if kind == store.APP:
                return self._fetch_app_token(session)
            if secrets is None:
                raise TokenError(f"no token for user {user_id}: run `kiss auth login`")
            if status is not None and status[0] == "invalid":
                raise TokenError(f"the token of user {user_id} is invalid: {status[1]}")
            if not secrets.refresh_token:
                return self._give_up(session, owner, "expired and has no refresh token")
            try:
                grant = self._oauth.refresh(secrets.refresh_token)
            except OAuthUnavailable:
                raise  # Twitch could not answer: the token is not at fault, keep it
            except TokenError as error:
                return self._give_up(session, owner, str(error))
            log.info("refreshed the token of user %s", user_id)
            return self._store_grant(session, owner, grant, secrets.scopes)

    def _fetch_app_token(self, session: Session) -> tuple[str, float | None]:
        try:
            grant = self._oauth.client_credentials()
        except OAuthUnavailable:
            raise
        except TokenError as error:
            store.mark_invalid(session, store.APP, "", str(error))
            raise
        log.info("fetched a new app token with client credentials")
        return self._store_grant(session, (store.APP, ""), grant, frozenset(grant.scopes))

    def _give_up(self, session: Session, owner: Owner, reason: str) -> tuple[str, float | None]:
        store.mark_invalid(session, owner[0], owner[1], reason)
        session.commit()
        raise TokenError(f"the token of user {owner[1]} cannot be refreshed: {reason}")

    def _store_grant(
        self, session: Session, owner: Owner, grant: Grant, known_scopes: frozenset[str]
    ) -> tuple[str, float | None]:
        expires_at = None if grant.expires_in is None else self._clock() + grant.expires_in
        scopes = frozenset(grant.scopes) or known_scopes
        self._save(session, owner, grant.access_token, grant.refresh_token, expires_at, scopes)
        return grant.access_token, expires_at

    def _save(
        self,
        session: Session,
        owner: Owner,
        access_token: str,
        refresh_token: str | None,
        expires_at: float | None,
        scopes: frozenset[str],
    ) -> None:
        store.save_token(
            session,
            self._cipher,
            kind=owner[0],
            user_id=owner[1],
            scopes=scopes,
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=None if expires_at is None else datetime.fromtimestamp(expires_at, UTC),
        )


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:  # SQLite hands back naive datetimes; they were stored as UTC
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def expires_at(seconds: int | None, now: float) -> datetime | None:
    return (
        None if seconds is None else datetime.fromtimestamp(now, UTC) + timedelta(seconds=seconds)
    )
