"""Wait, within a bound, until a database accepts connections (a container starting beside us).

``kiss db upgrade --wait-for-database 60`` runs this before the migration: in compose the
PostgreSQL container may still be starting when the migration starts. A database that refuses
for longer than the bound is an error that names it; one that answers is used at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from kiss.backoff import backoff
from kiss.errors import StartupFailed
from kiss.logs import redact
from kiss.store.db import make_engine


def wait_for_database(
    url: str,
    seconds: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = lambda _line: None,
) -> int:
    """Try ``SELECT 1`` until it works or ``seconds`` have passed; the attempts it took.

    Raises StartupFailed naming the database and its last refusal once the bound is spent.
    """
    deadline = clock() + seconds
    delays = backoff(0.25, 2.0, min_share=0.5)
    engine = make_engine(url)
    attempt = 0
    try:
        while True:
            attempt += 1
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                return attempt
            except (OperationalError, DBAPIError) as error:
                reason = str(error.orig or error).strip().splitlines()[0]
                left = deadline - clock()
                if left <= 0:
                    raise StartupFailed(
                        f"database {redact(url)} did not accept a connection within "
                        f"{seconds:g} s ({redact(reason)}): is it running, and is "
                        "database_url right?"
                    ) from None
                say(f"waiting for the database {redact(url)}: {redact(reason)}")
                sleep(min(next(delays), left))
    finally:
        engine.dispose()
