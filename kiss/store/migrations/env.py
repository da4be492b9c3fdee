"""Alembic environment: the URL comes from the caller's config (kiss.store.db.upgrade)."""

from __future__ import annotations

from alembic import context

from kiss.logs import redact
from kiss.store.db import make_engine
from kiss.store.guard import check_connection
from kiss.store.models import Base

config = context.config


def run() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("alembic: sqlalchemy.url is not set (use `kiss db upgrade`)")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            # Before Alembic adds its alembic_version table: refuse another project's database.
            check_connection(connection, redact(url))
            connection.rollback()  # the check's reads leave no transaction open behind them
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=url.startswith("sqlite"),
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


run()
