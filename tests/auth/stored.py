"""Putting a simulator-minted user token in the token store, as `kiss auth login` would."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from kiss.store import tokens as store
from kiss.store.crypto import TokenCipher


def save_user_token(
    session: Session,
    cipher: TokenCipher,
    user_id: str,
    minted: Mapping[str, str],
    *,
    scopes: Iterable[str] = (),
    expires_at: datetime | None = None,
) -> None:
    store.save_token(
        session,
        cipher,
        kind="user",
        user_id=user_id,
        scopes=scopes,
        access_token=minted["access_token"],
        refresh_token=minted["refresh_token"],
        expires_at=expires_at,
    )
