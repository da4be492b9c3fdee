from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from kiss.cli.db import db
from kiss.store import subscriptions as store
from kiss.store.db import make_engine, session_factory


@pytest.fixture
def env(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("KISSBOT_CONFIG", "KISSBOT_DB_PATH", "KISSBOT_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KISSBOT_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("KISSBOT_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    return sqlite_url


def test_upgrade_creates_the_schema(env: str) -> None:
    result = CliRunner().invoke(db, ["upgrade"])
    assert result.exit_code == 0, result.output
    engine = make_engine(env)
    try:
        assert "desired_subscriptions" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_import_seed(env: str, tmp_path: Path) -> None:
    seed = tmp_path / "seed.db"
    with sqlite3.connect(seed) as connection:
        connection.executescript(
            """
            CREATE TABLE desired_subscriptions (channel_id TEXT, topic TEXT, version TEXT,
              transport TEXT, created_at TEXT);
            CREATE TABLE active_subscriptions (twitch_sub_id TEXT, channel_id TEXT, topic TEXT,
              status TEXT, cost INTEGER, created_at TEXT);
            CREATE TABLE hub_state (key TEXT, value TEXT, updated_at TEXT);
            INSERT INTO desired_subscriptions VALUES ('1', 'stream.online', '1', 'websocket', NULL);
            """
        )
    result = CliRunner().invoke(db, ["import-seed", str(seed), "--transport", "websocket"])
    assert result.exit_code == 0, result.output
    assert "1 desired subscriptions" in result.output
    engine = make_engine(env)
    try:
        with session_factory(engine)() as session:
            (row,) = store.list_desired(session)
        assert (row.channel_id, row.transport) == ("1", "websocket")
    finally:
        engine.dispose()
    missing = CliRunner().invoke(db, ["import-seed", str(tmp_path / "nope.db")])
    assert missing.exit_code != 0 and "no such seed database" in missing.output
