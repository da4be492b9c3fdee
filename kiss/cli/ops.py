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
import redis
import redis.asyncio as aioredis

from kiss.cli.status import hub_access, print_json, redis_problem, settings_or_exit
from kiss.client.errors import ClientError
from kiss.client.requests import new_request_id, send_request
from kiss.contracts import tasks
from kiss.contracts.bot_requests import SUBSCRIBE, UNSUBSCRIBE, encode_request
from kiss.errors import KissError
from kiss.eventsub.catalog import Topic, lookup
from kiss.keys import Keys
from kiss.settings import Settings
from kiss.status.gather import gather_status, list_subscriptions
from kiss.status.model import HubStatus, ShardStatus

CLI_BOT = "kiss-cli"
DEFAULT_TYPES = ("stream.online", "stream.offline")
# Condition fields that name the channel itself when a channel is added from the CLI.


@click.command("resync")
@click.option(
    "--wait",
    "wait_seconds",
    type=click.FloatRange(min=0),
    default=0,
    help="Wait this long (seconds, >= 0) for the result.",
)
def resync(wait_seconds: float) -> None:
    """Ask the workers to re-read Twitch's subscriptions and reconcile now."""
    settings = settings_or_exit()
    require_redis(settings)  # Celery would retry for 25 s, then print its tracebacks
    # Imported here: Celery loads only for this command (the app module reads the settings).
    from kombu.exceptions import OperationalError

    app = importlib.import_module("workers.celery_app").app
    try:
        result = app.send_task(tasks.RESYNC, queue=settings.celery_queue, retry=False)
    except (OperationalError, redis.RedisError, OSError) as error:
        raise click.ClickException(redis_problem(settings, error)) from None
    click.echo(f"resync queued as task {result.id} on queue {settings.celery_queue!r}")
    click.echo("Follow it in Flower (Tasks tab), or with `kiss status`.")
    if wait_seconds > 0:
        try:
            outcome = result.get(timeout=wait_seconds, propagate=False)
        except Exception as error:  # Celery raises its own timeout and backend errors
            raise click.ClickException(
                f"no result after {wait_seconds:g}s ({type(error).__name__}); is a worker "
                f"consuming queue {settings.celery_queue!r}? (`kiss check worker`)"
            ) from None
        click.echo(f"resync finished: {result.state} {outcome!r}")
        if result.state != "SUCCESS":
            raise SystemExit(1)


def require_redis(settings: Settings) -> None:
    """ClickException naming the Redis URL unless Redis answers within a few seconds."""
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=3, socket_connect_timeout=3)
    try:
        client.ping()
    except (redis.RedisError, OSError) as error:
        raise click.ClickException(redis_problem(settings, error)) from None
    finally:
        client.close()


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
    type=click.FloatRange(min=0),
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
    """A topic's condition for a channel (``Topic.condition_for``: the bot client's rule too)."""
    return lookup(type_).condition_for(channel_id, extra)


def _fields(topic: Topic) -> set[str]:
    return {*topic.required, *topic.optional, *topic.exactly_one_of}


def conditions_per_type(topics: Sequence[Topic], pairs: Sequence[str]) -> dict[str, dict[str, str]]:
    """The extra condition fields of each type, from ``--condition`` values.

    ``type:field=value`` sets a field of that type only; a plain ``field=value`` sets it on
    every given type that has such a field. A field that no type takes, or a type that is
    not among the ``--type`` values, is a UsageError naming what would work.
    """
    extra: dict[str, dict[str, str]] = {topic.type: {} for topic in topics}
    by_type = {topic.type: topic for topic in topics}
    for pair in pairs:
        target, sep, value = pair.partition("=")
        scope, colon, name = target.rpartition(":")
        if not sep or not name:
            raise click.BadParameter(
                f"{pair!r}: expected field=value or type:field=value", param_hint="--condition"
            )
        if colon:
            topic = by_type.get(scope)
            if topic is None:
                raise click.BadParameter(
                    f"{pair!r}: {scope} is not one of the --type values ({', '.join(by_type)})",
                    param_hint="--condition",
                )
            if name not in _fields(topic):
                raise click.BadParameter(
                    f"{pair!r}: {topic.type} v{topic.version} has no condition field {name} "
                    f"(it has {', '.join(sorted(_fields(topic)))})",
                    param_hint="--condition",
                )
            extra[topic.type][name] = value
            continue
        takers = [topic for topic in topics if name in _fields(topic)]
        if not takers:
            raise click.BadParameter(
                f"{pair!r}: none of {', '.join(by_type)} has a condition field {name}; "
                f"write type:field=value for one type",
                param_hint="--condition",
            )
        for topic in takers:
            extra[topic.type][name] = value
    return extra


async def _send_all(
    settings: Settings, requests: Sequence[dict[str, str]], wait_seconds: float
) -> None:
    # A read outlives the longest wait for a reply (BLPOP slices of a few seconds);
    # a Redis that is down is told within the connect timeout.
    client = aioredis.Redis.from_url(
        settings.redis_url, decode_responses=True, socket_timeout=30, socket_connect_timeout=3
    )
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
        raise click.ClickException(str(error)) from None
    except (redis.RedisError, OSError) as error:
        raise click.ClickException(redis_problem(settings, error)) from None


@click.group("channels")
def channels() -> None:
    """Add or remove a channel's subscriptions (as a bot would ask for them)."""


@channels.command("add")
@click.argument("channel_id")
@click.option("--name", default="", help="The channel's login, for display.")
@click.option("--type", "types", multiple=True, help="Subscription type (repeatable).")
@click.option(
    "--condition",
    "pairs",
    multiple=True,
    help="Extra condition field=value (for every --type that has the field), or "
    "type:field=value for one type, e.g. channel.chat.message:user_id=123.",
)
@click.option(
    "--wait", "wait_seconds", type=click.FloatRange(min=0), default=15.0, show_default=True
)
def add(
    channel_id: str, name: str, types: tuple[str, ...], pairs: tuple[str, ...], wait_seconds: float
) -> None:
    """Subscribe CHANNEL_ID (a broadcaster id) to TYPEs (default: stream.online, stream.offline)."""
    settings = settings_or_exit()
    if not channel_id.isdigit():
        raise click.BadParameter(f"{channel_id!r} is not a Twitch user id (digits only)")
    try:
        topics = [lookup(type_) for type_ in dict.fromkeys(types or DEFAULT_TYPES)]
    except KissError as error:
        raise click.BadParameter(str(error), param_hint="--type") from None
    extra = conditions_per_type(topics, pairs)
    requests = []
    for topic in topics:
        try:
            condition = channel_condition(topic.type, channel_id, extra[topic.type])
        except KissError as error:
            raise click.BadParameter(str(error), param_hint="--type/--condition") from None
        requests.append(
            encode_request(
                new_request_id(),
                SUBSCRIBE,
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
@click.option(
    "--wait", "wait_seconds", type=click.FloatRange(min=0), default=15.0, show_default=True
)
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
        encode_request(
            new_request_id(),
            UNSUBSCRIBE,
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
