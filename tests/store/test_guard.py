"""kiss/store/guard.py: a database whose schema is not ours is refused and left as it was."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import OperationalError

from kiss.errors import ForeignDatabase
from kiss.store.db import describe_database_error, make_engine, upgrade
from kiss.store.guard import classify, our_revisions
from tests.v5seed import V5Channel, make_v5_db, sha256

OURS = our_revisions()
V5_TABLES = {
    "desired_subscriptions": {"channel_id", "topic", "version", "transport", "created_at"},
    "active_subscriptions": {"twitch_sub_id", "channel_id", "topic", "status"},
    "hub_state": {"key", "value", "updated_at"},
}


@pytest.mark.parametrize(
    ("tables", "revisions", "refused"),
    [
        ({}, set(), None),
        ({"alembic_version": {"version_num"}, "channels": {"channel_id"}}, OURS, None),
        (V5_TABLES, set(), "v5.0 kissbot.db"),
        ({**V5_TABLES, "users": {"id"}, "tokens": {"user_id"}}, set(), "kiss db import-seed"),
        ({"orders": {"id"}}, set(), "tables that are not this hub's (orders)"),
        ({"alembic_version": {"version_num"}}, {"abc123"}, "another Alembic project"),
    ],
    ids=["empty", "ours", "v5", "v5-with-v4-tables", "foreign", "other-alembic"],
)
def test_classify(tables: dict[str, set[str]], revisions: set[str], refused: str | None) -> None:
    problem = classify("the.db", tables, revisions, OURS)
    if refused is None:
        assert problem is None
    else:
        assert problem is not None and refused in problem


@pytest.fixture
def v5_file(tmp_path: Path) -> Path:
    return make_v5_db(
        tmp_path / "kissbot.db", Fernet.generate_key(), (V5Channel("44456636", "el_serda"),)
    )


def test_upgrade_leaves_a_v5_file_byte_for_byte_and_says_what_to_do(v5_file: Path) -> None:
    before = sha256(v5_file)
    for attempt in (
        lambda: upgrade(f"sqlite:///{v5_file}"),
        lambda: make_engine(f"sqlite:///{v5_file}"),
    ):
        with pytest.raises(ForeignDatabase, match="import-seed") as caught:
            attempt()
        assert "database_url" in str(caught.value)
    assert sha256(v5_file) == before
    assert sorted(p.name for p in v5_file.parent.iterdir()) == ["kissbot.db"]  # no side files


def test_a_foreign_sqlite_file_and_a_non_database_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "app.db"
    with closing(sqlite3.connect(other)) as db:
        db.execute("CREATE TABLE orders (id INTEGER)")
    text_file = tmp_path / "notes.db"
    text_file.write_text("not a database at all, just some text " * 20)
    for path, named in ((other, "orders"), (text_file, "not an SQLite database")):
        before = sha256(path)
        with pytest.raises(ForeignDatabase, match=named):
            upgrade(f"sqlite:///{path}")
        assert sha256(path) == before


def test_postgres_with_a_foreign_schema_gets_no_alembic_version(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE hub_state (key TEXT, value TEXT)"))
        with pytest.raises(ForeignDatabase, match="hub_state"):
            upgrade(postgres_url)
        assert inspect(engine).get_table_names() == ["hub_state"]
    finally:
        engine.dispose()


def test_an_unreachable_server_is_not_told_to_upgrade() -> None:
    url = "postgresql+psycopg://kiss:hunter2@127.0.0.1:1/kiss"
    engine = make_engine(url)
    try:
        with pytest.raises(OperationalError) as caught, engine.connect():
            pass
    finally:
        engine.dispose()
    message = describe_database_error(url, caught.value)
    assert "not answering" in message and "127.0.0.1:1" in message
    assert "hunter2" not in message and "kiss db upgrade" not in message


def test_a_missing_schema_is_told_to_upgrade(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    try:
        with pytest.raises(OperationalError) as caught, engine.connect() as connection:
            connection.execute(text("SELECT * FROM desired_subscriptions"))
    finally:
        engine.dispose()
    assert "kiss db upgrade" in describe_database_error(sqlite_url, caught.value)
