"""Import of a seed kissbot.db built here with the v5.0 tables of the seed's documentation."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from kiss.errors import ConfigError
from kiss.store import hub_state, tokens
from kiss.store import subscriptions as store
from kiss.store.crypto import TokenCipher
from kiss.store.seed import import_seed, parse_scopes
from tests.v5seed import V5Channel, make_v5_db, sha256

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
        assert hub_state.get_state(session, "seed.total_reconciliations") == "12"
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


NOW = datetime(2026, 12, 4, tzinfo=UTC)


def v4_seed(tmp_path: Path) -> Path:
    """The seed's tables beside v4's users/tokens: token user_id -> users.id, JSON scopes."""
    return make_v5_db(
        tmp_path / "v5" / "kissbot.db",
        SEED_KEY,
        (
            V5Channel(
                "44456636",
                "el_serda",
                topics=(("stream.online", "1"), ("channel.follow", "1")),
                expires_at="2025-11-05T14:42:38+00:00",
            ),
            V5Channel("135500767", "other_chan", expires_at="2027-01-01T00:00:00+00:00"),
        ),
    )


def test_v4_tokens_keep_login_scopes_and_expiry(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    seed = v4_seed(tmp_path)
    with sessions.begin() as session:
        report = import_seed(session, seed, CIPHER, seed_key=SEED_KEY, now=NOW)
    assert report.tokens == 2 and report.channels == 2
    assert report.expired_tokens == ["el_serda (44456636)"]
    with sessions() as session:
        listed = {info.user_id: info for info in tokens.list_tokens(session, now=NOW)}
    assert set(listed) == {"44456636", "135500767"}  # Twitch ids, not the users rows' ids
    assert listed["44456636"].login == "el_serda"
    assert listed["44456636"].scopes == ("channel:bot", "user:read:chat")
    assert (listed["44456636"].status, listed["135500767"].status) == ("expired", "valid")


def test_channel_follow_v1_becomes_v2_with_a_note(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    seed = v4_seed(tmp_path)
    with sessions.begin() as session:
        report = import_seed(session, seed, CIPHER, seed_key=SEED_KEY, now=NOW)
    assert report.skipped == []
    [note] = report.notes
    assert "channel.follow v1" in note and "v2" in note and "moderator:read:followers" in note
    with sessions() as session:
        follow = [d for d in store.list_desired(session) if d.type == "channel.follow"]
    assert [(d.version, d.channel_id) for d in follow] == [("2", "44456636")]


def test_a_second_import_adds_nothing_and_says_so(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    seed = v4_seed(tmp_path)
    with sessions.begin() as session:
        first = import_seed(session, seed, CIPHER, seed_key=SEED_KEY, now=NOW)
    with sessions.begin() as session:  # the hub refreshed a token since the first import
        tokens.save_token(
            session, CIPHER, kind="user", user_id="44456636", access_token="refreshed"
        )
    with sessions.begin() as session:
        again = import_seed(session, seed, CIPHER, seed_key=SEED_KEY, now=NOW)
    assert first.new == 4 + 2 + 2 + 3
    assert again.new == 0 and again.notes == []
    assert again.already == {"desired": 4, "channels": 2, "tokens": 2, "hub_state": 3}
    with sessions() as session:
        secrets = tokens.load_secrets(session, CIPHER, "user", "44456636")
    assert secrets is not None and secrets.access_token == "refreshed"  # not the seed's


def test_a_wrong_seed_key_names_the_option_and_imports_nothing(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    seed = v4_seed(tmp_path)
    with (
        pytest.raises(ConfigError, match="--seed-key-file") as caught,
        sessions.begin() as session,
    ):
        import_seed(
            session, seed, CIPHER, seed_key=Fernet.generate_key(), seed_key_source="old.key"
        )
    assert "old.key" in str(caught.value)
    with sessions() as session:
        assert store.list_desired(session) == []


@pytest.mark.parametrize(
    ("stored", "scopes"),
    [
        ('["channel:bot", "user:read:chat"]', ["channel:bot", "user:read:chat"]),
        ("channel:bot,user:read:chat", ["channel:bot", "user:read:chat"]),
        ("channel:bot user:read:chat", ["channel:bot", "user:read:chat"]),
        ("[]", []),
        (None, []),
    ],
)
def test_parse_scopes(stored: str | None, scopes: list[str]) -> None:
    assert parse_scopes(stored) == scopes


def test_the_seed_file_is_left_byte_for_byte(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    seed = v4_seed(tmp_path)
    before = sha256(seed)
    with sessions.begin() as session:
        import_seed(session, seed, CIPHER, seed_key=SEED_KEY, now=NOW)
    assert sha256(seed) == before
    assert sorted(p.name for p in seed.parent.iterdir()) == ["kissbot.db"]
