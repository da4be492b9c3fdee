"""Stored OAuth tokens, encrypted at rest; listings never carry secrets."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiss.store.crypto import TokenCipher
from kiss.store.models import StoredToken, utcnow

APP = "app"
USER = "user"


@dataclass(frozen=True, slots=True)
class TokenSecrets:
    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token as status and ``kiss auth list`` show it: no secret in it."""

    kind: str
    user_id: str
    login: str
    scopes: tuple[str, ...]
    expires_at: datetime | None
    status: str
    reason: str
    validated_at: datetime | None


def _find(session: Session, kind: str, user_id: str) -> StoredToken | None:
    return session.scalars(
        select(StoredToken).where(StoredToken.kind == kind, StoredToken.user_id == user_id)
    ).first()


def save_token(
    session: Session,
    cipher: TokenCipher,
    *,
    kind: str,
    user_id: str = "",
    login: str = "",
    scopes: Iterable[str] = (),
    access_token: str,
    refresh_token: str | None = None,
    expires_at: datetime | None = None,
) -> StoredToken:
    if kind not in (APP, USER):
        raise ValueError(f"token kind must be app or user, got {kind!r}")
    row = _find(session, kind, user_id)
    if row is None:
        row = StoredToken(kind=kind, user_id=user_id)
        session.add(row)
    if login:
        row.login = login
    row.scopes = " ".join(sorted(set(scopes)))
    row.access_token = cipher.encrypt(access_token)
    row.refresh_token = cipher.encrypt(refresh_token) if refresh_token else None
    row.expires_at = expires_at
    row.status = "valid"
    row.reason = ""
    session.flush()
    return row


def load_secrets(
    session: Session, cipher: TokenCipher, kind: str, user_id: str = ""
) -> TokenSecrets | None:
    row = _find(session, kind, user_id)
    if row is None:
        return None
    return TokenSecrets(
        access_token=cipher.decrypt(row.access_token),
        refresh_token=cipher.decrypt(row.refresh_token) if row.refresh_token else None,
        expires_at=row.expires_at,
        scopes=frozenset(row.scopes.split()),
    )


def token_status(session: Session, kind: str, user_id: str = "") -> tuple[str, str] | None:
    """``(status, reason)`` of a stored token, or None when there is none."""
    row = _find(session, kind, user_id)
    return None if row is None else (row.status, row.reason)


def mark_invalid(session: Session, kind: str, user_id: str, reason: str) -> None:
    row = _find(session, kind, user_id)
    if row is not None:
        row.status = "invalid"
        row.reason = reason


def mark_validated(
    session: Session,
    kind: str,
    user_id: str,
    *,
    login: str,
    scopes: Iterable[str],
    expires_at: datetime | None,
) -> None:
    row = _find(session, kind, user_id)
    if row is not None:
        row.login = login or row.login
        row.scopes = " ".join(sorted(set(scopes)))
        row.expires_at = expires_at
        row.validated_at = utcnow()
        row.status, row.reason = "valid", ""


def delete_token(session: Session, kind: str, user_id: str = "") -> bool:
    row = _find(session, kind, user_id)
    if row is None:
        return False
    session.delete(row)
    return True


def shown_status(status: str, expires_at: datetime | None, now: datetime) -> str:
    """``valid`` past its expiry reads ``expired`` (refreshed when next used or validated)."""
    if status == "valid" and expires_at is not None:
        moment = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
        if moment <= now:
            return "expired"
    return status


def list_tokens(session: Session, now: datetime | None = None) -> list[TokenInfo]:
    when = now or utcnow()
    rows = session.scalars(select(StoredToken).order_by(StoredToken.kind, StoredToken.user_id))
    return [
        TokenInfo(
            kind=row.kind,
            user_id=row.user_id,
            login=row.login,
            scopes=tuple(row.scopes.split()),
            expires_at=row.expires_at,
            status=shown_status(row.status, row.expires_at, when),
            reason=row.reason,
            validated_at=row.validated_at,
        )
        for row in rows
    ]


def invalid_users(session: Session) -> dict[str, str]:
    """User id -> reason, for every user token that is invalid (its subscriptions stop)."""
    rows = session.scalars(
        select(StoredToken).where(StoredToken.kind == USER, StoredToken.status == "invalid")
    )
    return {row.user_id: row.reason for row in rows}
