"""``kiss db upgrade`` and ``kiss db import-seed PATH``."""

from __future__ import annotations

from pathlib import Path

import click

from kiss.errors import KissError
from kiss.logs import redact
from kiss.settings import Settings, load_settings


def _settings() -> Settings:
    try:
        return load_settings()
    except KissError as error:
        raise click.ClickException(str(error)) from error


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
    upgrade(settings.database_url, revision)
    click.echo(f"database {redact(settings.database_url)} is at revision {revision}")


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
    from kiss.store.crypto import TokenCipher, load_keys
    from kiss.store.db import make_engine, session_factory, upgrade
    from kiss.store.seed import import_seed

    settings = _settings()
    upgrade(settings.database_url)
    cipher = TokenCipher.from_file(settings.secret_key_file)
    seed_key = seed_key_file.read_text().strip().encode() if seed_key_file else None
    if seed_key is None:
        seed_key = load_keys(settings.secret_key_file)[0]  # the seed's default key file
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine).begin() as session:
            report = import_seed(
                session,
                path,
                cipher,
                transport=transport or settings.eventsub.transport,
                seed_key=seed_key,
            )
    except KissError as error:
        raise click.ClickException(str(error)) from error
    finally:
        engine.dispose()
    click.echo(
        f"imported from {path}: {report.desired} desired subscriptions, "
        f"{report.channels} channels, {report.tokens} tokens, {report.hub_state} hub_state rows"
    )
    for line in report.skipped:
        click.echo(f"  skipped: {line}")
    click.echo("Next: start the workers; `kiss resync` re-reads Twitch's active subscriptions.")
