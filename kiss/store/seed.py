"""Import the seed's ``kissbot.db`` (EventSub Hub v5.0) into this schema.

What moves (see docs/migrating-from-v5.md):
- ``desired_subscriptions`` (channel_id, topic, version, transport, created_at): each row
  becomes a desired subscription; the seed stored no condition, so it is built from the
  topic's required fields, all naming the channel (``broadcaster_user_id`` etc.).
- ``hub_state`` rows are copied under ``seed.<key>`` (history, not live state).
- ``users`` / ``tokens`` when present (v4 tables): channels with their logins, and tokens,
  decrypted with the seed's key when they were encrypted, then re-encrypted with ours.
- ``active_subscriptions`` is *not* copied: it is Twitch's state, re-read by ``kiss.resync``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.orm import Session

from kiss.errors import ConfigError, InvalidCondition, UnknownTopic
from kiss.eventsub import catalog
from kiss.store import state
from kiss.store import subscriptions as store
from kiss.store import tokens as token_store
from kiss.store.crypto import TokenCipher
from kiss.store.models import DesiredSubscription

SEED_TABLES = ("desired_subscriptions", "active_subscriptions", "hub_state")


@dataclass
class ImportReport:
    desired: int = 0
    channels: int = 0
    tokens: int = 0
    hub_state: int = 0
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "desired": self.desired,
            "channels": self.channels,
            "tokens": self.tokens,
            "hub_state": self.hub_state,
            "skipped": self.skipped,
        }


@contextmanager
def _open(path: Path) -> Iterator[sqlite3.Connection]:
    if not path.is_file():
        raise ConfigError(f"{path}: no such seed database")
    # Read-only: the seed's file is never changed by the import.
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        connection.row_factory = sqlite3.Row
        yield connection


def _tables(connection: sqlite3.Connection) -> set[str]:
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
    return {row[0] for row in rows}


def _rows(connection: sqlite3.Connection, table: str) -> list[dict[str, Any]]:
    return [dict(row) for row in connection.execute(f'SELECT * FROM "{table}"')]  # noqa: S608


def seed_condition(topic: catalog.Topic, channel_id: str) -> dict[str, str]:
    """The condition of a seed row: every required field names the channel."""
    if topic.exactly_one_of:
        return {"to_broadcaster_user_id": channel_id}
    return {name: channel_id for name in topic.required}


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _first(row: dict[str, Any], *names: str) -> Any:
    for name in names:
        if row.get(name) not in (None, ""):
            return row[name]
    return None


def _plain(value: Any, seed_key: Fernet | None) -> str | None:
    """A seed token value in clear: Fernet-decrypted with the seed key when it is encrypted."""
    if value in (None, ""):
        return None
    text = value.decode() if isinstance(value, bytes) else str(value)
    if text.startswith("gAAAAA"):  # Fernet's version byte, base64: an encrypted value
        if seed_key is None:
            raise ConfigError("the seed's tokens are encrypted: pass its key (--seed-key-file)")
        try:
            return seed_key.decrypt(text.encode()).decode()
        except InvalidToken as error:
            raise ConfigError("the seed key does not decrypt the seed's tokens") from error
    return text


def import_seed(
    session: Session,
    path: Path,
    cipher: TokenCipher,
    *,
    transport: str = "conduit",
    seed_key: bytes | None = None,
) -> ImportReport:
    """Copy the seed's tables into the store (idempotent: re-running adds nothing twice)."""
    report = ImportReport()
    fernet = Fernet(seed_key) if seed_key else None
    with _open(path) as seed:
        tables = _tables(seed)
        missing = [name for name in SEED_TABLES if name not in tables]
        if missing:
            raise ConfigError(f"{path}: not a v5.0 kissbot.db (missing {', '.join(missing)})")
        if "users" in tables:
            _import_users(session, _rows(seed, "users"), report)
        for row in _rows(seed, "desired_subscriptions"):
            _import_desired(session, row, transport, report)
        for row in _rows(seed, "hub_state"):
            state.set_state(session, f"seed.{row['key']}", row.get("value"))
            report.hub_state += 1
        if "tokens" in tables:
            for row in _rows(seed, "tokens"):
                _import_token(session, cipher, row, fernet, report)
    session.flush()
    return report


def _import_users(session: Session, rows: list[dict[str, Any]], report: ImportReport) -> None:
    for row in rows:
        user_id = _first(row, "twitch_user_id", "user_id", "id")
        login = _first(row, "login", "twitch_login", "username", "channel") or ""
        if user_id is None:
            report.skipped.append(f"users row without a user id: {login or row}")
            continue
        store.ensure_channel(session, str(user_id), str(login))
        report.channels += 1


def _import_desired(
    session: Session, row: dict[str, Any], transport: str, report: ImportReport
) -> None:
    channel_id = str(row.get("channel_id") or "")
    topic_name = str(row.get("topic") or "")
    version = str(row.get("version") or "1")
    try:
        topic = catalog.lookup(topic_name, version)
        desired = store.add_desired(
            session,
            channel_id=channel_id,
            type=topic.type,
            version=topic.version,
            condition=seed_condition(topic, channel_id),
            transport=transport,
            requested_by="seed-import",
        )
    except (UnknownTopic, InvalidCondition, ValueError) as error:
        report.skipped.append(f"desired {channel_id} {topic_name} v{version}: {error}")
        return
    created = _when(row.get("created_at"))
    if created is not None and isinstance(desired, DesiredSubscription):
        desired.created_at = created
    report.desired += 1


def _import_token(
    session: Session,
    cipher: TokenCipher,
    row: dict[str, Any],
    seed_key: Fernet | None,
    report: ImportReport,
) -> None:
    user_id = _first(row, "user_id", "twitch_user_id")
    access = _plain(_first(row, "access_token", "token"), seed_key)
    if user_id is None or access is None:
        report.skipped.append("tokens row without user id or access token")
        return
    scopes = _first(row, "scopes", "scope") or ""
    store.ensure_channel(session, str(user_id))
    token_store.save_token(
        session,
        cipher,
        kind=token_store.USER,
        user_id=str(user_id),
        scopes=str(scopes).replace(",", " ").split(),
        access_token=access,
        refresh_token=_plain(row.get("refresh_token"), seed_key),
        expires_at=_when(row.get("expires_at")),
    )
    report.tokens += 1
