"""``kiss bot``: run the example bot (workers/bot.py) for one channel."""

from __future__ import annotations

from datetime import datetime

import click

from kiss.client.replay import StartPosition
from kiss.errors import ConfigError, UnknownTopic
from kiss.eventsub.catalog import lookup
from kiss.keys import Keys
from kiss.logs import bind, configure_logging
from kiss.settings import load_settings


@click.command("bot")
@click.option("--channel-id", required=True, help="The broadcaster's Twitch user id.")
@click.option("--channel-name", required=True, help="The channel's login, for the logs.")
@click.option(
    "--bot",
    "bot_name",
    default="kissbot",
    show_default=True,
    help="Bot name: its consumer group (the demo bots are kissbot; pick your own).",
)
@click.option(
    "--instance",
    default=None,
    help="Which process of this bot this is (default: the host name); stable across restarts.",
)
@click.option(
    "--start",
    default="now",
    show_default=True,
    help="Where a new bot name starts: now, beginning, or a time (ISO 8601 or epoch seconds).",
)
@click.option(
    "--topic",
    "topics",
    multiple=True,
    help="A subscription type to ask for (repeatable); default: a few stream topics.",
)
def bot(
    channel_id: str,
    channel_name: str,
    bot_name: str,
    instance: str | None,
    start: str,
    topics: tuple[str, ...],
) -> None:
    """Consume a channel's events from the hub and log each one on a line."""
    from kiss.client import ClientError, ClientOptions, HubEventSubClient, run
    from workers.bot import DEFAULT_TOPICS, ExampleBot

    try:
        settings = load_settings()
        for topic in topics:
            lookup(topic)
        options = ClientOptions() if instance is None else ClientOptions(instance=instance)
        client = HubEventSubClient(
            channel_id,
            channel_name,
            settings.redis_url,
            bot=bot_name,
            start=start_position(start),
            keys=Keys(settings.key_prefix),
            options=options,
        )
    except (ConfigError, UnknownTopic, ClientError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    configure_logging(settings.log_level, f"bot-{channel_name}", settings.log_format)
    bind(channel_id=channel_id)
    run(ExampleBot(client, topics or DEFAULT_TOPICS).run())


def start_position(text: str) -> StartPosition:
    """``now``, ``beginning``, epoch seconds or an ISO 8601 time with a zone."""
    if text in ("now", "beginning"):
        return text  # type: ignore[return-value]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise click.BadParameter(
            f"{text!r}: want now, beginning, epoch seconds or an ISO 8601 time with a zone "
            "(2026-12-03T18:00:00+00:00)",
            param_hint="--start",
        )
    return moment
