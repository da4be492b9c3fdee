"""``kiss status``, ``kiss subscriptions``, ``kiss metrics`` and ``kiss check``: the seed's hub_ctl.

Tables for people, ``--json`` for scripts; exit 1 with an error that says what to do when
Redis or the database cannot be read. ``kiss check`` is the container healthcheck (0 or 1).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
import orjson
import redis
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from kiss.errors import ConfigError
from kiss.keys import Keys
from kiss.logs import redact
from kiss.settings import Settings, load_settings
from kiss.status.gather import (
    gather_counters,
    gather_reconnects,
    gather_status,
    list_subscriptions,
)
from kiss.status.render import render_metrics, render_status, render_subscriptions

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigError as error:
        raise click.ClickException(
            f"{error}\nFix config/config.yaml or the KISSBOT_* variable."
        ) from None


def print_json(document: Any) -> None:
    click.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())


@contextmanager
def hub_access(settings: Settings) -> Iterator[tuple[redis.Redis, Keys, Session]]:
    """Redis and a database session for one command, with errors that say what to do."""
    from kiss.store.db import make_engine, session_factory

    client = redis.Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=5)
    engine = make_engine(settings.database_url)
    try:
        with session_factory(engine)() as session:
            yield client, Keys(settings.key_prefix), session
    except redis.RedisError as error:
        raise click.ClickException(
            f"cannot reach Redis at {redact(settings.redis_url)}: {error}\n"
            "Is redis-server running? Set redis_url (KISSBOT_REDIS_URL) to where it runs."
        ) from error
    except SQLAlchemyError as error:
        raise click.ClickException(
            f"cannot read the database at {redact(settings.database_url)}: "
            f"{str(error).splitlines()[0]}\n"
            "Run `kiss db upgrade` to create or update its schema, and check database_url "
            "(KISSBOT_DATABASE_URL)."
        ) from error
    finally:
        client.close()
        engine.dispose()


@click.command("status")
@json_option
def status(as_json: bool) -> None:
    """Listeners and shards, desired against active (and why not), counters, channels, bots."""
    settings = settings_or_exit()
    with hub_access(settings) as (client, keys, session):
        hub = gather_status(
            client, keys, session, transport=settings.eventsub.transport, now=time.time()
        )
    if as_json:
        print_json(hub.as_json())
    else:
        click.echo(render_status(hub), nl=False)


@click.command("subscriptions")
@click.option("--channel", "channel_id", help="Only this channel (broadcaster id).")
@click.option("--type", "type_", help="Only this subscription type, e.g. stream.online.")
@click.option("--state", help="Only this state: pending, active, failed...")
@json_option
def subscriptions(
    channel_id: str | None, type_: str | None, state: str | None, as_json: bool
) -> None:
    """Desired subscriptions and where placing each one stands."""
    settings = settings_or_exit()
    with hub_access(settings) as (_client, _keys, session):
        rows = list_subscriptions(session, channel_id=channel_id, type=type_, state=state)
    if as_json:
        print_json([row.__dict__ for row in rows])
    else:
        click.echo(render_subscriptions(rows), nl=False)


@click.command("metrics")
@json_option
def metrics(as_json: bool) -> None:
    """Hub-wide counters (events routed, duplicates, reconnects, gaps, reconciliations...)."""
    settings = settings_or_exit()
    with hub_access(settings) as (client, keys, session):
        counters = gather_counters(client, keys, session)
        reconnects = gather_reconnects(client, keys)
    if as_json:
        # The counters as before; reconnects always, and per listener and slot beside them.
        print_json({**counters, "reconnects": counters.get("reconnects", 0),
                    "reconnects_by_listener": reconnects})  # fmt: skip
        return
    click.echo(render_metrics(counters, reconnects), nl=False)
    click.echo(
        f"\nPrometheus: the listener serves /metrics on port {settings.metrics_port}; "
        "docker/grafana/dashboards has a Grafana dashboard."
    )


def _alive(client: redis.Redis, keys: Keys, name: str) -> list[str]:
    """Heartbeat names matching ``name`` exactly or as a prefix (``listener`` -> listener:a)."""
    beating = [
        str(key).removeprefix(keys.heartbeat(""))
        for key in client.scan_iter(match=keys.heartbeat_pattern())
    ]
    return sorted(b for b in beating if b == name or b.startswith(f"{name}:"))


@click.command("check")
@click.argument("processes", nargs=-1)
def check(processes: tuple[str, ...]) -> None:
    """Healthcheck: exit 0 when Redis answers and each named process has a live heartbeat.

    PROCESSES are heartbeat names (listener, worker, beat, control, or listener:<id>);
    none: only Redis is checked.
    """
    settings = settings_or_exit()
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=3)
    keys = Keys(settings.key_prefix)
    try:
        client.ping()
        silent = [name for name in processes if not _alive(client, keys, name)]
    except redis.RedisError as error:
        click.echo(f"unhealthy: Redis at {redact(settings.redis_url)}: {error}", err=True)
        sys.exit(1)
    finally:
        client.close()
    if silent:
        click.echo(f"unhealthy: no live heartbeat for {', '.join(silent)}", err=True)
        sys.exit(1)
    click.echo("healthy")
