"""Engines, sessions and schema upgrades (Alembic, with its scripts inside this package).

Nothing here writes to a database whose schema is not ours (kiss.store.guard): an SQLite
file is checked read-only before its engine exists, any database again by the migrations.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from kiss.logs import redact
from kiss.store.guard import check_connection, check_sqlite_file

MIGRATIONS = Path(__file__).with_name("migrations")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the workers read while one writes; busy_timeout waits out short write locks.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine on ``url``; ForeignDatabase (before any write) for an SQLite file not ours."""
    if url.startswith("sqlite"):
        check_sqlite_file(url)  # the journal pragmas below would already change the file
        engine = create_engine(url, connect_args={"timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def check_database(url: str) -> None:
    """ForeignDatabase when ``url`` holds a schema that is not ours (read only; a process
    checks this at start so that the refusal is one clear line, not a task's traceback)."""
    engine = make_engine(url)  # an SQLite file is checked here, before any connection
    try:
        if not url.startswith("sqlite"):
            with engine.connect() as connection:
                check_connection(connection, redact(url))
    finally:
        engine.dispose()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema at ``url`` to ``revision`` (idempotent); ForeignDatabase, with the file
    or database left as it was, when it holds another schema."""
    command.upgrade(alembic_config(url), revision)


_UNREACHABLE = (
    "connection refused",
    "could not connect",
    "connection failed",
    "timeout expired",
    "could not translate host name",
    "name or service not known",
    "no route to host",
)
_NO_SCHEMA = ("no such table", "does not exist", "undefinedtable", "no such column")


def describe_database_error(url: str, error: SQLAlchemyError) -> str:
    """One message for a database that cannot be used: unreachable, no schema, or else."""
    first = str(getattr(error, "orig", None) or error).strip().splitlines()
    detail = first[0] if first else type(error).__name__
    lowered = str(error).lower()
    where = redact(url)
    if any(mark in lowered for mark in _UNREACHABLE):
        return (
            f"the database server at {where} is not answering ({detail}).\n"
            "Start it, or fix database_url (KISSBOT_DATABASE_URL)."
        )
    if any(mark in lowered for mark in _NO_SCHEMA):
        return (
            f"the database at {where} has no hub schema, or an old one ({detail}).\n"
            "Run `kiss db upgrade` (the local run and compose's migrate service do it at start)."
        )
    return (
        f"cannot use the database at {where}: {detail}\n"
        "Check database_url (KISSBOT_DATABASE_URL) and that the database is up."
    )
