"""Never touch a database whose schema is not ours.

Before anything writes to a database (a migration, or SQLite's own journal pragmas when an
engine first connects), its tables are read without writing and classified:

- empty, or carrying our ``alembic_version`` with a revision of ours: ours, go ahead;
- the seed's v5.0 ``kissbot.db`` (``desired_subscriptions.topic``,
  ``active_subscriptions.twitch_sub_id``): refused, with the way to import it instead;
- anything else (tables but no ``alembic_version``, another project's revision, a file
  that is not SQLite): refused, naming what was found.

``classify`` is pure (tables and revisions in, a verdict out); ``check_sqlite_file`` reads a
file read-only (``mode=ro&immutable=1``: the file is left byte for byte as it was,
and no side file appears next to it) and
``check_connection`` reads through an open connection (any dialect, used by the migrations).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Set
from contextlib import closing
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Connection, inspect, text
from sqlalchemy.engine import make_url

from kiss.errors import ForeignDatabase

VERSION_TABLE = "alembic_version"
V5_MARKS = {"desired_subscriptions": "topic", "active_subscriptions": "twitch_sub_id"}
MIGRATIONS = Path(__file__).with_name("migrations")


@lru_cache(maxsize=1)
def our_revisions() -> frozenset[str]:
    """Every revision of our migration scripts (read from the files, not the database)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return frozenset(rev.revision for rev in ScriptDirectory.from_config(config).walk_revisions())


def v5_advice(where: str) -> str:
    return (
        f"{where} is an EventSub Hub v5.0 kissbot.db: this hub leaves it untouched. Keep it as "
        "it is and give the hub a database of its own (database_url / KISSBOT_DATABASE_URL, "
        "e.g. sqlite:///kiss-hub.db, the default), then copy the old content into it with "
        f"`kiss db import-seed {where}` (see docs/migrating-from-v5.md)."
    )


def classify(
    where: str, tables: Mapping[str, Set[str]], revisions: Set[str], ours: Set[str]
) -> str | None:
    """Why the database with these tables (name -> columns) is not ours, or None if it is."""
    if VERSION_TABLE in tables:
        unknown = sorted(set(revisions) - set(ours))
        if not unknown:
            return None
        return (
            f"{where} is managed by another Alembic project (revision {', '.join(unknown)}, "
            "not one of this hub's): this hub leaves it untouched. Point database_url "
            "(KISSBOT_DATABASE_URL) at a database of the hub's own."
        )
    if all(mark in tables.get(name, set()) for name, mark in V5_MARKS.items()):
        return v5_advice(where)
    if tables:
        names = ", ".join(sorted(tables)[:6]) + (", ..." if len(tables) > 6 else "")
        return (
            f"{where} already holds tables that are not this hub's ({names}) and no "
            f"{VERSION_TABLE}: this hub leaves it untouched. Point database_url "
            "(KISSBOT_DATABASE_URL) at an empty database or a new file, e.g. "
            "sqlite:///kiss-hub.db."
        )
    return None


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL, or None (not SQLite, or in memory)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def check_sqlite_file(url: str) -> None:
    """ForeignDatabase unless the SQLite file of ``url`` is missing, empty or ours."""
    path = sqlite_path(url)
    if path is None or not path.is_file() or path.stat().st_size == 0:
        return
    try:
        # immutable: no lock and no -shm/-wal side files either; a schema check needs neither.
        uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
        with closing(sqlite3.connect(uri, uri=True)) as db:
            names = [
                row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            tables = {
                name: {row[1] for row in db.execute(f'PRAGMA table_info("{name}")')}
                for name in names
            }
            revisions: set[str] = set()
            if VERSION_TABLE in tables:
                revisions = {
                    row[0] for row in db.execute("SELECT version_num FROM alembic_version")
                }
    except sqlite3.DatabaseError as error:
        raise ForeignDatabase(
            f"{path} is not an SQLite database this hub can use ({error}): it is left "
            "untouched. Point database_url (KISSBOT_DATABASE_URL) at a new file, e.g. "
            "sqlite:///kiss-hub.db."
        ) from None
    problem = classify(str(path), tables, revisions, our_revisions())
    if problem:
        raise ForeignDatabase(problem)


def check_connection(connection: Connection, where: str) -> None:
    """ForeignDatabase unless the database behind ``connection`` is empty or ours (reads only)."""
    inspector = inspect(connection)
    tables = {
        name: {column["name"] for column in inspector.get_columns(name)}
        for name in inspector.get_table_names()
    }
    revisions: set[str] = set()
    if VERSION_TABLE in tables:
        rows = connection.execute(text("SELECT version_num FROM alembic_version"))
        revisions = {str(row[0]) for row in rows}
    problem = classify(where, tables, revisions, our_revisions())
    if problem:
        raise ForeignDatabase(problem)
