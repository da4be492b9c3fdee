from __future__ import annotations

import pytest
from sqlalchemy import inspect

from kiss.store.db import make_engine, upgrade

TABLES = {
    "channels",
    "desired_subscriptions",
    "active_subscriptions",
    "hub_state",
    "audit_log",
    "tokens",
    "alembic_version",
}


@pytest.mark.parametrize("backend", ["sqlite_url", "postgres_url"])
def test_upgrade_creates_every_table_and_is_idempotent(
    backend: str, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue(backend))
    upgrade(url)
    upgrade(url)
    engine = make_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) == TABLES
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()
