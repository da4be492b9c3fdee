"""Validate every stored token (at start-up and hourly, as Twitch requires).

A token Twitch no longer accepts is refreshed (user) or fetched again (app); one that cannot
be is marked invalid, which status shows and which stops its subscriptions. Nothing raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from kiss.auth.oauth import OAuthClient
from kiss.auth.store_provider import StoredTokenProvider
from kiss.errors import OAuthUnavailable, TokenError
from kiss.store import tokens as store
from kiss.store.crypto import TokenCipher

log = logging.getLogger(__name__)


@dataclass
class ValidationReport:
    valid: list[str] = field(default_factory=list)
    renewed: list[str] = field(default_factory=list)
    invalid: dict[str, str] = field(default_factory=dict)
    unchecked: dict[str, str] = field(default_factory=dict)  # Twitch could not answer

    def as_dict(self) -> dict[str, object]:
        return {
            "valid": self.valid,
            "renewed": self.renewed,
            "invalid": self.invalid,
            "unchecked": self.unchecked,
        }


def _name(kind: str, user_id: str) -> str:
    return "app" if kind == store.APP else f"user:{user_id}"


def validate_all(
    sessions: sessionmaker[Session],
    cipher: TokenCipher,
    oauth: OAuthClient,
    provider: StoredTokenProvider,
    *,
    clock: Callable[[], float] = time.time,
) -> ValidationReport:
    report = ValidationReport()
    with sessions() as session:
        owners = [(info.kind, info.user_id) for info in store.list_tokens(session)]
    for kind, user_id in owners:
        name = _name(kind, user_id)
        with sessions.begin() as session:
            try:
                secrets = store.load_secrets(session, cipher, kind, user_id)
            except TokenError as error:
                store.mark_invalid(session, kind, user_id, str(error))
                report.invalid[name] = str(error)
                continue
            if secrets is None:
                continue
            try:
                found = oauth.validate(secrets.access_token)
            except OAuthUnavailable as error:
                log.warning("validation: the %s token not checked: %s", name, error)
                report.unchecked[name] = str(error)
                continue
            except TokenError as error:
                log.info("validation: the %s token was refused (%s); renewing it", name, error)
                token_needed = True
            else:
                token_needed = False
                expires = (
                    None
                    if found.expires_in is None
                    else datetime.fromtimestamp(clock(), UTC) + timedelta(seconds=found.expires_in)
                )
                store.mark_validated(
                    session,
                    kind,
                    user_id,
                    login=found.login,
                    scopes=found.scopes,
                    expires_at=expires,
                )
                report.valid.append(name)
        if token_needed:
            try:
                provider.renew(kind, user_id)
                report.renewed.append(name)
            except OAuthUnavailable as error:
                report.unchecked[name] = str(error)
            except TokenError as error:
                report.invalid[name] = str(error)
    return report
