"""``kiss db upgrade`` and ``kiss db import-seed PATH``.

Neither writes to a database whose schema is not ours (kiss.store.guard): pointed at the
v5.0 ``kissbot.db`` itself, they leave it as it is and say how to import it instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from kiss.errors import KissError
from kiss.logs import redact
from kiss.settings import Settings, load_settings
from kiss.store.seed import ImportReport


def _settings() -> Settings:
    try:
        return load_settings()
    except KissError as error:
        raise click.ClickException(str(error)) from error


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Errors of the hub, the database or Alembic as one message that says what to do."""
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from kiss.store.db import describe_database_error

    try:
        yield
    except KissError as error:
        raise click.ClickException(str(error)) from None
    except SQLAlchemyError as error:
        raise click.ClickException(describe_database_error(url, error)) from None
    except CommandError as error:
        raise click.ClickException(f"database {redact(url)}: {error}") from None


@click.group("db")
def db() -> None:
    """The hub's database: schema upgrades and the seed import."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Alembic revision.")
@click.option(
    "--wait-for-database",
    "wait_seconds",
    type=click.FloatRange(min=0),
    default=0,
    show_default=True,
    help="Seconds to wait for the database to accept connections (a container starting).",
)
def upgrade_command(revision: str, wait_seconds: float) -> None:
    """Create or upgrade the schema at settings.database_url."""
    from kiss.store.db import upgrade
    from kiss.store.wait import wait_for_database

    settings = _settings()
    if wait_seconds:
        try:
            wait_for_database(settings.database_url, wait_seconds, say=click.echo)
        except KissError as error:
            raise click.ClickException(str(error)) from None
    with database_errors(settings.database_url):
        upgrade(settings.database_url, revision)
    click.echo(f"database {redact(settings.database_url)} is at revision {revision}")


def _seed_keys(settings: Settings, seed_key_file: Path | None) -> tuple[list[bytes], str]:
    """The keys that may decrypt the seed's tokens, and where they come from."""
    from kiss.store.crypto import ENV_VAR, load_keys

    if seed_key_file is not None:
        key = seed_key_file.read_text().strip().encode()
        return [key], f"--seed-key-file {seed_key_file}"
    # The seed's default key file has our default name: next to it, the old key is ours.
    source = ENV_VAR if os.environ.get(ENV_VAR) else str(settings.secret_key_file)
    return load_keys(settings.secret_key_file), source


def describe_report(path: Path, report: ImportReport) -> list[str]:
    """The lines ``import-seed`` prints: what is new, what was already here, what to check."""
    already = ", ".join(f"{count} {kind}" for kind, count in sorted(report.already.items()))
    if report.new == 0 and not report.skipped:
        lines = [f"nothing new in {path}: everything was already imported ({already or 'empty'})"]
    else:
        lines = [
            f"imported from {path}: {report.desired} desired subscriptions, "
            f"{report.channels} channels, {report.tokens} tokens, {report.hub_state} hub_state "
            f"rows" + (f" (already here: {already})" if already else "")
        ]
    lines += [f"  note: {note}" for note in report.notes]
    lines += [f"  skipped: {line}" for line in report.skipped]
    if report.expired_tokens:
        lines.append(
            f"  expired tokens: {', '.join(report.expired_tokens)}: `kiss auth validate` "
            "refreshes them (the workers do it at start)"
        )
    return lines


@db.command("import-seed")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--transport",
    type=click.Choice(["conduit", "websocket"]),
    default=None,
    help="Transport of the imported subscriptions (default: eventsub.transport).",
)
@click.option(
    "--seed-key-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="The seed's .kissbot.key, if its tokens are encrypted with another key than ours.",
)
def import_seed_command(path: Path, transport: str | None, seed_key_file: Path | None) -> None:
    """Copy the seed's kissbot.db (v5.0) into this database (idempotent)."""
    from kiss.store.crypto import TokenCipher
    from kiss.store.db import make_engine, session_factory, upgrade
    from kiss.store.seed import import_seed

    settings = _settings()
    with database_errors(settings.database_url):
        upgrade(settings.database_url)
        cipher = TokenCipher.from_file(settings.secret_key_file)
        seed_keys, source = _seed_keys(settings, seed_key_file)
        engine = make_engine(settings.database_url)
        try:
            with session_factory(engine).begin() as session:
                report = import_seed(
                    session,
                    path,
                    cipher,
                    transport=transport or settings.eventsub.transport,
                    seed_key=seed_keys,
                    seed_key_source=source,
                )
        finally:
            engine.dispose()
    for line in describe_report(path, report):
        click.echo(line)
    click.echo("Next: start the workers; `kiss resync` re-reads Twitch's active subscriptions.")
