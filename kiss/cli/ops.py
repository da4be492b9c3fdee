"""Operations: ``kiss resync``, ``kiss drain`` / ``undrain``, ``kiss channels add`` / ``remove``.

``resync`` sends the ``kiss.resync`` task (the same as ``celery -A workers.celery_app call
kiss.resync``), so it shows in Flower. Channels are added and removed through the control
plane's request stream, exactly as a bot asks, so that workers/control.py stays the one
writer of desired subscriptions.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Mapping, Sequence

import click
import orjson
import redis.asyncio as aioredis

from kiss.cli.status import hub_access, print_json, settings_or_exit
from kiss.client.errors import ClientError
from kiss.client.requests import new_request_id, request_fields, send_request
from kiss.errors import KissError
from kiss.eventsub.catalog import lookup
from kiss.keys import Keys
from kiss.logs import redact
from kiss.settings import Settings
from kiss.status.gather import gather_status, list_subscriptions
from kiss.status.model import HubStatus, ShardStatus

CLI_BOT = "kiss-cli"
DEFAULT_TYPES = ("stream.online", "stream.offline")
# Condition fields that name the channel itself when a channel is added from the CLI.
CHANNEL_FIELDS = ("broadcaster_user_id", "to_broadcaster_user_id", "moderator_user_id", "user_id")


@click.command("resync")
@click.option(
    "--wait", "wait_seconds", type=float, default=0, help="Wait this long for the result."
)
def resync(wait_seconds: float) -> None:
    """Ask the workers to re-read Twitch's subscriptions and reconcile now."""
    settings = settings_or_exit()
    # Imported here: Celery loads only for this command (the app module reads the settings).
    app = importlib.import_module("workers.celery_app").app
    result = app.send_task("kiss.resync", queue=settings.celery_queue)
    click.echo(f"resync queued as task {result.id} on queue {settings.celery_queue!r}")
    click.echo("Follow it in Flower (Tasks tab), or with `kiss status`.")
    if wait_seconds > 0:
        try:
            outcome = result.get(timeout=wait_seconds, propagate=False)
        except Exception as error:  # Celery raises its own timeout and backend errors
            raise click.ClickException(
                f"no result after {wait_seconds:g}s ({type(error).__name__}); is a worker "
                f"consuming queue {settings.celery_queue!r}? (`kiss check worker`)"
            ) from error
        click.echo(f"resync finished: {result.state} {outcome!r}")
        if result.state != "SUCCESS":
            raise SystemExit(1)


def handover_done(initial_holders: set[str], shards: Sequence[ShardStatus]) -> bool:
    """Every conduit shard is held, and by none of the listeners that held shards at first."""
    return bool(shards) and all(
        shard.holder is not None and shard.holder not in initial_holders for shard in shards
    )


def _hub_status(settings: Settings) -> HubStatus:
    with hub_access(settings) as (client, keys, session):
        return gather_status(
            client, keys, session, transport=settings.eventsub.transport, now=time.time()
        )


def _show_listeners(hub: HubStatus) -> None:
    for listener in hub.listeners:
        mark = "🟢" if listener.alive else "🔴"
        shards = f", shards {','.join(listener.shards)}" if listener.shards else ""
        click.echo(f"   {mark} listener {listener.listener_id}: {listener.state}{shards}")


def _stop_drain(settings: Settings) -> None:
    with hub_access(settings) as (client, keys, _session):
        client.delete(keys.drain())


def _start_drain(settings: Settings) -> set[str]:
    """Turn the drain on and return the listeners to hand over from: those that held shards
    when the drain began. A second ``kiss drain`` (``--wait`` after starting the successor)
    reads them from the drain key, so a successor that already took a shard is not taken for
    an old listener (its wait would never end)."""
    with hub_access(settings) as (client, keys, _session):
        recorded = client.get(keys.drain())
    if recorded is not None:
        try:
            holders = orjson.loads(recorded).get("holders")
        except (orjson.JSONDecodeError, AttributeError):
            holders = None
        if isinstance(holders, list):
            return {str(holder) for holder in holders}
    before = _hub_status(settings)
    initial = {shard.holder for shard in before.shards if shard.holder}
    with hub_access(settings) as (client, keys, _session):
        value = {"since": time.time(), "holders": sorted(initial)}
        client.set(keys.drain(), orjson.dumps(value).decode())
    return initial


@click.command("drain")
@click.option(
    "--wait",
    "wait_seconds",
    type=float,
    default=0,
    help="Wait this long for the shards to move to other listeners (exit 1 if they do not).",
)
def drain(wait_seconds: float) -> None:
    """Maintenance: freeze subscription changes; listeners hand their shards to a successor.

    Run it, start the new listener (the successor), wait until it holds every shard
    (``--wait``), then stop the old listeners and ``kiss undrain``.
    """
    settings = settings_or_exit()
    initial = _start_drain(settings)
    click.echo("Drain ON: the reconciler makes no Twitch changes.")
    click.echo(
        "Listeners holding shards hand them over as soon as another listener is alive: "
        "start the successor now."
    )
    deadline = time.monotonic() + wait_seconds
    hub = _hub_status(settings)
    while wait_seconds > 0 and not handover_done(initial, hub.shards):
        if time.monotonic() > deadline:
            _show_listeners(hub)
            raise click.ClickException(
                f"the shards are still held by {', '.join(sorted(initial))} after "
                f"{wait_seconds:g}s: is a successor listener running? (`kiss status`)"
            )
        time.sleep(1.0)
        hub = _hub_status(settings)
    _show_listeners(hub)
    if wait_seconds > 0:
        click.echo("Handover done: the old listeners can be stopped; `kiss undrain` after.")
    else:
        click.echo("Stop the old listeners once `kiss status` shows the shards on the successor.")


@click.command("undrain")
def undrain() -> None:
    """Leave maintenance: the reconciler and the listeners resume."""
    settings = settings_or_exit()
    _stop_drain(settings)
    click.echo("Drain OFF: reconciliation resumes; listeners share the shards again.")
    _show_listeners(_hub_status(settings))


def channel_condition(type_: str, channel_id: str, extra: Mapping[str, str]) -> dict[str, str]:
    """A topic's condition for a channel: its own fields filled with the channel id."""
    topic = lookup(type_)
    fields = (*topic.required, *topic.exactly_one_of[:1])
    condition = {name: channel_id for name in fields if name in CHANNEL_FIELDS}
    return topic.validate_condition({**condition, **extra})


def _parse_pairs(pairs: Sequence[str]) -> dict[str, str]:
    parsed = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{pair!r}: expected field=value", param_hint="--condition")
        parsed[name] = value
    return parsed


async def _send_all(
    settings: Settings, requests: Sequence[dict[str, str]], wait_seconds: float
) -> None:
    client = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
    try:
        for fields in requests:
            await send_request(client, Keys(settings.key_prefix), fields, wait_seconds=wait_seconds)
            click.echo(f"   ✅ {fields['op']} {fields['type']} v{fields['version']}")
    finally:
        await client.aclose()


def _run_requests(settings: Settings, requests: Sequence[dict[str, str]], wait: float) -> None:
    try:
        asyncio.run(_send_all(settings, requests, wait))
    except (ClientError, KissError) as error:
        raise click.ClickException(str(error)) from error
    except OSError as error:
        raise click.ClickException(
            f"cannot reach Redis at {redact(settings.redis_url)}: {error}"
        ) from error


@click.group("channels")
def channels() -> None:
    """Add or remove a channel's subscriptions (as a bot would ask for them)."""


@channels.command("add")
@click.argument("channel_id")
@click.option("--name", default="", help="The channel's login, for display.")
@click.option("--type", "types", multiple=True, help="Subscription type (repeatable).")
@click.option("--condition", "pairs", multiple=True, help="Extra condition field=value.")
@click.option("--wait", "wait_seconds", type=float, default=15.0, show_default=True)
def add(
    channel_id: str, name: str, types: tuple[str, ...], pairs: tuple[str, ...], wait_seconds: float
) -> None:
    """Subscribe CHANNEL_ID (a broadcaster id) to TYPEs (default: stream.online, stream.offline)."""
    settings = settings_or_exit()
    if not channel_id.isdigit():
        raise click.BadParameter(f"{channel_id!r} is not a Twitch user id (digits only)")
    extra = _parse_pairs(pairs)
    requests = []
    for type_ in types or DEFAULT_TYPES:
        try:
            topic = lookup(type_)
            condition = channel_condition(type_, channel_id, extra)
        except KissError as error:
            raise click.BadParameter(str(error), param_hint="--type/--condition") from error
        requests.append(
            request_fields(
                new_request_id(),
                "subscribe",
                bot=CLI_BOT,
                channel_id=channel_id,
                channel_name=name,
                type=topic.type,
                version=topic.version,
                condition=condition,
                now=time.time(),
            )
        )
    click.echo(f"Channel {channel_id}: asking the control plane for {len(requests)} subscriptions")
    _run_requests(settings, requests, wait_seconds)
    click.echo("Twitch's answers show in `kiss subscriptions --channel " + channel_id + "`.")


@channels.command("remove")
@click.argument("channel_id")
@click.option("--wait", "wait_seconds", type=float, default=15.0, show_default=True)
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
def remove(channel_id: str, wait_seconds: float, dry_run: bool) -> None:
    """Unsubscribe every desired subscription of CHANNEL_ID."""
    settings = settings_or_exit()
    with hub_access(settings) as (_client, _keys, session):
        rows = list_subscriptions(session, channel_id=channel_id)
    if not rows:
        raise click.ClickException(
            f"channel {channel_id} has no desired subscriptions (see `kiss subscriptions`)"
        )
    requests = [
        request_fields(
            new_request_id(),
            "unsubscribe",
            bot=row.requested_by or CLI_BOT,
            channel_id=channel_id,
            channel_name="",
            type=row.type,
            version=row.version,
            condition=orjson.loads(row.condition),
            now=time.time(),
        )
        for row in rows
    ]
    if dry_run:
        print_json([{k: r[k] for k in ("type", "version", "condition")} for r in requests])
        return
    click.echo(f"Channel {channel_id}: removing {len(requests)} subscriptions")
    _run_requests(settings, requests, wait_seconds)
