"""Import the seed's ``kissbot.db`` (EventSub Hub v5.0) into this schema.

What moves (see docs/migrating-from-v5.md):
- ``desired_subscriptions`` (channel_id, topic, version, transport, created_at): each row
  becomes a desired subscription; the seed stored no condition, so it is built from the
  topic's required fields, all naming the channel (``broadcaster_user_id`` etc.).
- ``hub_state`` rows are copied under ``seed.<key>`` (history, not live state).
- ``users`` / ``tokens`` (or ``oauth_tokens``) when present (v4 tables): channels with their
  logins, and tokens, decrypted with the seed's key when they were encrypted, then
  re-encrypted with ours. A token's ``user_id`` may be the users row's own id; it is mapped
  to that row's Twitch user id. Scopes may be a JSON list or a comma/space separated text.
- ``active_subscriptions`` is *not* copied: it is Twitch's state, re-read by ``kiss.resync``.

Idempotent: what is already here is left as it is (a token the hub has refreshed since is
not overwritten by the seed's older one) and counted as ``already``, not as imported.
A version Twitch removed (``channel.follow`` v1) is imported as the current one, with a note.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.orm import Session

from kiss.errors import ConfigError, InvalidCondition, UnknownTopic
from kiss.eventsub import catalog
from kiss.store import hub_state
from kiss.store import subscriptions as store
from kiss.store import tokens as token_store
from kiss.store.crypto import TokenCipher
from kiss.store.models import Channel, DesiredSubscription, utcnow

SEED_TABLES = ("desired_subscriptions", "active_subscriptions", "hub_state")


@dataclass
class ImportReport:
    """What an import did: new rows per kind, rows that were already here, notes, skips."""

    desired: int = 0
    channels: int = 0
    tokens: int = 0
    hub_state: int = 0
    already: dict[str, int] = field(default_factory=dict)
    expired_tokens: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def new(self) -> int:
        return self.desired + self.channels + self.tokens + self.hub_state

    def seen(self, kind: str) -> None:
        self.already[kind] = self.already.get(kind, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "desired": self.desired,
            "channels": self.channels,
            "tokens": self.tokens,
            "hub_state": self.hub_state,
            "already": self.already,
            "expired_tokens": self.expired_tokens,
            "notes": self.notes,
            "skipped": self.skipped,
        }


@contextmanager
def _open(path: Path) -> Iterator[sqlite3.Connection]:
    if not path.is_file():
        raise ConfigError(f"{path}: no such seed database")
    # Read-only: the seed's file is never changed by the import. Immutable (no -shm/-wal side
    # files) unless a -wal file holds writes that are not in the main file yet.
    wal = path.with_name(path.name + "-wal")
    pending = wal.is_file() and wal.stat().st_size > 0
    uri = f"{path.resolve().as_uri()}?mode=ro" + ("" if pending else "&immutable=1")
    with closing(sqlite3.connect(uri, uri=True)) as connection:
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
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)  # a UNIX timestamp
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


def parse_scopes(value: Any) -> list[str]:
    """A seed's scopes: a JSON list (``["channel:bot", "user:read:chat"]``) or a text with
    commas or spaces between the scopes."""
    if value in (None, ""):
        return []
    text = value.decode() if isinstance(value, bytes) else str(value)
    if text.lstrip().startswith("["):
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return [str(scope).strip() for scope in parsed if str(scope).strip()]
    return text.replace(",", " ").split()


class SeedKeys:
    """The keys tried on the seed's encrypted tokens, and where they came from (for errors)."""

    def __init__(self, keys: list[bytes], source: str) -> None:
        self.fernet = MultiFernet([Fernet(key) for key in keys]) if keys else None
        self.source = source

    def plain(self, value: Any) -> str | None:
        """A seed token value in clear: Fernet-decrypted when it is encrypted."""
        if value in (None, ""):
            return None
        text = value.decode() if isinstance(value, bytes) else str(value)
        if not text.startswith("gAAAAA"):  # Fernet's version byte, base64: an encrypted value
            return text
        if self.fernet is None:
            raise ConfigError(
                "the seed's tokens are encrypted: pass the v5.0 key file with "
                "--seed-key-file path/to/.kissbot.key"
            )
        try:
            return self.fernet.decrypt(text.encode()).decode()
        except InvalidToken as error:
            raise ConfigError(
                f"the key from {self.source} does not decrypt the seed's tokens: pass the v5.0 "
                "key file with --seed-key-file path/to/.kissbot.key (nothing was imported)"
            ) from error


def import_seed(
    session: Session,
    path: Path,
    cipher: TokenCipher,
    *,
    transport: str = "conduit",
    seed_key: bytes | list[bytes] | None = None,
    seed_key_source: str = "the given key",
    now: datetime | None = None,
) -> ImportReport:
    """Copy the seed's tables into the store (idempotent: re-running adds nothing twice)."""
    report = ImportReport()
    keys = [seed_key] if isinstance(seed_key, bytes) else list(seed_key or [])
    seed_keys = SeedKeys(keys, seed_key_source)
    moment = now or utcnow()
    with _open(path) as seed:
        tables = _tables(seed)
        missing = [name for name in SEED_TABLES if name not in tables]
        if missing:
            raise ConfigError(f"{path}: not a v5.0 kissbot.db (missing {', '.join(missing)})")
        users = _rows(seed, "users") if "users" in tables else []
        logins = _import_users(session, users, report)
        existing = {
            (d.channel_id, d.type, d.version, d.condition) for d in store.list_desired(session)
        }
        for row in _rows(seed, "desired_subscriptions"):
            _import_desired(session, row, transport, existing, report)
        for row in _rows(seed, "hub_state"):
            key = f"seed.{row['key']}"
            if hub_state.get_state(session, key) is None:
                hub_state.set_state(session, key, row.get("value"))
                report.hub_state += 1
            else:
                report.seen("hub_state")
        internal_ids = _internal_ids(users)
        for table in ("tokens", "oauth_tokens"):
            if table in tables:
                for row in _rows(seed, table):
                    _import_token(
                        session, cipher, row, seed_keys, internal_ids, logins, moment, report
                    )
    session.flush()
    return report


def _internal_ids(users: list[dict[str, Any]]) -> dict[str, str]:
    """users.id -> twitch user id, for tokens that point at the users row."""
    mapping: dict[str, str] = {}
    for row in users:
        twitch_id = _first(row, "twitch_user_id", "user_id")
        if row.get("id") is not None and twitch_id is not None:
            mapping[str(row["id"])] = str(twitch_id)
    return mapping


def _import_users(
    session: Session, rows: list[dict[str, Any]], report: ImportReport
) -> dict[str, str]:
    logins: dict[str, str] = {}
    for row in rows:
        user_id = _first(row, "twitch_user_id", "user_id", "id")
        login = str(_first(row, "login", "twitch_login", "username", "channel") or "")
        if user_id is None:
            report.skipped.append(f"users row without a user id: {login or row}")
            continue
        logins[str(user_id)] = login
        channel = session.get(Channel, str(user_id))
        if channel is not None and (channel.login or not login):
            report.seen("channels")
            continue
        store.ensure_channel(session, str(user_id), login)
        report.channels += 1
    return logins


def _import_desired(
    session: Session,
    row: dict[str, Any],
    transport: str,
    existing: set[tuple[str, str, str, str]],
    report: ImportReport,
) -> None:
    channel_id = str(row.get("channel_id") or "")
    topic_name = str(row.get("topic") or "")
    version = str(row.get("version") or "1")
    try:
        note = ""
        if catalog.is_removed(topic_name, version):
            topic = catalog.lookup(topic_name)  # the current version
            needs = f", needs {' or '.join(sorted(topic.any_scope))}" if topic.any_scope else ""
            note = (
                f"{channel_id} {topic_name} v{version}: Twitch removed that version; imported "
                f"as v{topic.version} (condition {seed_condition(topic, channel_id)}{needs})"
            )
        else:
            topic = catalog.lookup(topic_name, version)
        condition = topic.validate_condition(seed_condition(topic, channel_id))
        key = (channel_id, topic.type, topic.version, store.canonical(condition))
        if key in existing:
            report.seen("desired")
            return
        if note:
            report.notes.append(note)
        desired = store.add_desired(
            session,
            channel_id=channel_id,
            type=topic.type,
            version=topic.version,
            condition=condition,
            transport=transport,
            requested_by="seed-import",
        )
    except (UnknownTopic, InvalidCondition, ValueError) as error:
        report.skipped.append(f"desired {channel_id} {topic_name} v{version}: {error}")
        return
    existing.add(key)
    created = _when(row.get("created_at"))
    if created is not None and isinstance(desired, DesiredSubscription):
        desired.created_at = created
    report.desired += 1


def _import_token(
    session: Session,
    cipher: TokenCipher,
    row: dict[str, Any],
    seed_keys: SeedKeys,
    internal_ids: dict[str, str],
    logins: dict[str, str],
    now: datetime,
    report: ImportReport,
) -> None:
    raw_user = _first(row, "twitch_user_id", "user_id")
    user_id = None if raw_user is None else str(raw_user)
    if user_id is not None and user_id not in logins:
        user_id = internal_ids.get(user_id, user_id)  # users.id of the v4 schema
    access = seed_keys.plain(_first(row, "access_token", "access_token_encrypted", "token"))
    if user_id is None or access is None:
        report.skipped.append("tokens row without user id or access token")
        return
    refresh = seed_keys.plain(_first(row, "refresh_token", "refresh_token_encrypted"))
    if token_store.token_status(session, token_store.USER, user_id) is not None:
        report.seen("tokens")  # ours may have been refreshed since: never overwritten
        return
    login = str(_first(row, "login", "twitch_login") or logins.get(user_id, ""))
    expires_at = _when(row.get("expires_at"))
    store.ensure_channel(session, user_id, login)
    token_store.save_token(
        session,
        cipher,
        kind=token_store.USER,
        user_id=user_id,
        login=login,
        scopes=parse_scopes(_first(row, "scopes", "scope")),
        access_token=access,
        refresh_token=refresh,
        expires_at=expires_at,
    )
    seed_status = str(row.get("status") or "valid")
    if seed_status == "revoked" or row.get("needs_reauth") in (1, "1", True):
        token_store.mark_invalid(
            session, token_store.USER, user_id, f"v5.0 marked it {seed_status}: log in again"
        )
    elif expires_at is not None and expires_at <= now:
        report.expired_tokens.append(f"{login or '?'} ({user_id})")
    report.tokens += 1
