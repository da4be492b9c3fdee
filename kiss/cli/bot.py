"""``kiss bot``: run the example bot (workers/bot.py) for one channel."""

from __future__ import annotations

import asyncio
import signal

import click

from kiss.errors import ConfigError, UnknownTopic
from kiss.eventsub.catalog import lookup
from kiss.keys import Keys
from kiss.logs import configure_logging
from kiss.settings import load_settings


@click.command("bot")
@click.option("--channel-id", required=True, help="The broadcaster's Twitch user id.")
@click.option("--channel-name", required=True, help="The channel's login, for the logs.")
@click.option("--bot", "bot_name", default="kissbot", show_default=True, help="Bot name.")
@click.option(
    "--topic",
    "topics",
    multiple=True,
    help="A subscription type to ask for (repeatable); default: a few stream topics.",
)
def bot(channel_id: str, channel_name: str, bot_name: str, topics: tuple[str, ...]) -> None:
    """Consume a channel's events from the hub and log each one on a line."""
    from kiss.client import HubEventSubClient
    from workers.bot import DEFAULT_TOPICS, ExampleBot

    try:
        settings = load_settings()
        for topic in topics:
            lookup(topic)
    except (ConfigError, UnknownTopic) as error:
        raise click.ClickException(str(error)) from error
    configure_logging(settings.log_level, f"bot-{channel_name}")
    client = HubEventSubClient(
        channel_id,
        channel_name,
        settings.redis_url,
        bot=bot_name,
        keys=Keys(settings.key_prefix),
    )
    example = ExampleBot(client, topics or DEFAULT_TOPICS)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await example.run(stop)

    asyncio.run(main())
