"""``kiss listener``: run the listener; ``kiss listener health`` / ``status`` read its state."""

from __future__ import annotations

import sys
from typing import Literal, cast

import click
import orjson

from kiss.errors import ConfigError


@click.group("listener", invoke_without_command=True)
@click.option(
    "--transport",
    type=click.Choice(["conduit", "websocket"]),
    default=None,
    help="Override eventsub.transport.",
)
@click.option(
    "--user", "users", multiple=True, help="User id whose websocket sessions to hold (websocket)."
)
@click.option("--sessions-per-user", type=click.IntRange(1, 3), default=1, show_default=True)
@click.option("--listener-id", default=None, help="A stable name (default: host-pid-random).")
@click.option("--metrics-port", type=int, default=None, help="Override metrics_port (0: any).")
@click.option("--time-unit", type=float, default=1.0, hidden=True)
@click.pass_context
def listener(
    ctx: click.Context,
    transport: str | None,
    users: tuple[str, ...],
    sessions_per_user: int,
    listener_id: str | None,
    metrics_port: int | None,
    time_unit: float,
) -> None:
    """Hold the EventSub connections and write every event to its channel's Redis stream."""
    if ctx.invoked_subcommand is not None:
        return
    from workers.listener import main

    try:
        code = main(
            listener_id=listener_id,
            users=users,
            sessions_per_user=sessions_per_user,
            transport=cast(Literal["conduit", "websocket"] | None, transport),
            time_unit=time_unit,
            metrics_port=metrics_port,
        )
    except ConfigError as error:
        raise click.ClickException(str(error)) from error
    sys.exit(code)


@listener.command("health")
@click.option("--listener-id", default=None, help="Check this listener (default: any).")
def health(listener_id: str | None) -> None:
    """Exit 0 if a listener is alive with every session welcomed, else 1."""
    import redis

    from kiss.keys import Keys
    from kiss.listener.health import check_health
    from kiss.settings import load_settings

    try:
        settings = load_settings()
    except ConfigError as error:
        raise click.ClickException(str(error)) from error
    client = redis.Redis.from_url(settings.redis_url)
    try:
        ok, why = check_health(client, Keys(settings.key_prefix), listener_id)
    except redis.RedisError as error:
        ok, why = False, f"redis: {error}"
    finally:
        client.close()
    click.echo(("healthy: " if ok else "unhealthy: ") + why)
    sys.exit(0 if ok else 1)


@listener.command("status")
def status() -> None:
    """Print each listener's state, slots and counters as JSON lines."""
    import redis

    from kiss.keys import Keys
    from kiss.settings import load_settings

    settings = load_settings()
    keys = Keys(settings.key_prefix)
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        for listener_id in sorted(str(member) for member in client.smembers(keys.listeners())):
            fields = client.hgetall(keys.listener_state(listener_id))
            alive = bool(client.exists(keys.heartbeat(f"listener:{listener_id}")))
            if "slots" in fields:
                fields["slots"] = orjson.loads(fields["slots"])
            click.echo(orjson.dumps({"listener": listener_id, "alive": alive, **fields}))
    finally:
        client.close()
