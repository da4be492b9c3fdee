"""Import of a seed kissbot.db built here with the v5.0 tables of the seed's documentation."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from kiss.errors import ConfigError
from kiss.store import state, tokens
from kiss.store import subscriptions as store
from kiss.store.crypto import TokenCipher
from kiss.store.seed import import_seed

SEED_KEY = Fernet.generate_key()
CIPHER = TokenCipher([Fernet.generate_key()])


def make_seed(path: Path, *, encrypted: bool = True) -> Path:
    path.parent.mkdir(exist_ok=True)
    seal = Fernet(SEED_KEY)
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE desired_subscriptions (channel_id TEXT, topic TEXT, version TEXT
              DEFAULT '1', transport TEXT DEFAULT 'websocket', created_at TEXT,
              UNIQUE(channel_id, topic));
            CREATE TABLE active_subscriptions (twitch_sub_id TEXT UNIQUE, channel_id TEXT,
              topic TEXT, status TEXT, cost INTEGER, created_at TEXT);
            CREATE TABLE hub_state (key TEXT PRIMARY KEY, value TEXT, updated_at TEXT);
            CREATE TABLE users (id INTEGER PRIMARY KEY, twitch_user_id TEXT, login TEXT);
            CREATE TABLE tokens (user_id TEXT, access_token TEXT, refresh_token TEXT,
              scopes TEXT, expires_at TEXT);
            """
        )
        db.executemany(
            "INSERT INTO desired_subscriptions VALUES (?, ?, ?, ?, ?)",
            [
                ("44456636", "stream.online", "1", "websocket", "2025-11-05T13:42:38+00:00"),
                ("44456636", "stream.offline", "1", "websocket", "2025-11-05T13:42:38"),
                ("135500767", "channel.follow", "2", "websocket", None),
                ("135500767", "no.such.topic", "1", "websocket", None),
            ],
        )
        db.execute(
            "INSERT INTO active_subscriptions VALUES ('x', '44456636', "
            "'stream.online', 'enabled', 1, '2025-11-05')"
        )
        db.execute("INSERT INTO hub_state VALUES ('total_reconciliations', '12', '2025-11-05')")
        db.execute("INSERT INTO users VALUES (1, '44456636', 'el_serda')")
        access = seal.encrypt(b"seed-access").decode() if encrypted else "seed-access"
        db.execute(
            "INSERT INTO tokens VALUES ('44456636', ?, ?, 'bits:read,channel:bot', NULL)",
            (access, seal.encrypt(b"seed-refresh").decode()),
        )
    return path


def test_import_moves_desired_channels_tokens_and_state(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    seed = make_seed(tmp_path / "seed" / "kissbot.db")
    with sessions.begin() as session:
        report = import_seed(session, seed, CIPHER, seed_key=SEED_KEY)
    assert (report.desired, report.channels, report.tokens, report.hub_state) == (3, 1, 1, 1)
    assert len(report.skipped) == 1 and "no.such.topic" in report.skipped[0]
    with sessions() as session:
        desired = {(d.channel_id, d.type): d for d in store.list_desired(session)}
        follow = desired[("135500767", "channel.follow")]
        assert (
            store.canonical({"broadcaster_user_id": "135500767", "moderator_user_id": "135500767"})
            == follow.condition
        )
        assert {d.transport for d in desired.values()} == {"conduit"}
        assert store.list_active(session) == []  # Twitch's state: re-read by a resync
        secrets = tokens.load_secrets(session, CIPHER, "user", "44456636")
        assert secrets is not None
        assert (secrets.access_token, secrets.refresh_token) == ("seed-access", "seed-refresh")
        assert secrets.scopes == {"bits:read", "channel:bot"}
        assert state.get_state(session, "seed.total_reconciliations") == "12"
    with sessions.begin() as session:  # idempotent
        import_seed(session, seed, CIPHER, seed_key=SEED_KEY)
    with sessions() as session:
        assert len(store.list_desired(session)) == 3


def test_encrypted_seed_needs_its_key(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    seed = make_seed(tmp_path / "seed" / "kissbot.db")
    with sessions.begin() as session, pytest.raises(ConfigError, match="seed"):
        import_seed(session, seed, CIPHER, seed_key=None)


def test_not_a_seed_database(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "other.db") as db:
        db.execute("CREATE TABLE hub_state (key TEXT)")
    with sessions.begin() as session, pytest.raises(ConfigError, match="missing"):
        import_seed(session, tmp_path / "other.db", CIPHER)
    with sessions.begin() as session, pytest.raises(ConfigError, match="no such"):
        import_seed(session, tmp_path / "absent.db", CIPHER)
