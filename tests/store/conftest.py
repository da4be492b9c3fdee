"""A migrated database (SQLite and PostgreSQL) and a session factory on it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from kiss.store.db import make_engine, session_factory, upgrade


@pytest.fixture(params=["sqlite", "postgres"])
def sessions(request: pytest.FixtureRequest) -> Iterator[sessionmaker[Session]]:
    url = str(
        request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    )
    upgrade(url)
    engine = make_engine(url)
    yield session_factory(engine)
    engine.dispose()
