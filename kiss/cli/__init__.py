"""The ``kiss`` command. Subcommands load lazily, so ``kiss simulator`` never imports Celery."""

from __future__ import annotations

import importlib
from typing import Any

import click

# name -> "module:attribute" of a click command or group.
SUBCOMMANDS: dict[str, str] = {
    "simulator": "kiss.cli.simulator:simulator",
    "status": "kiss.cli.status:status",
    "subscriptions": "kiss.cli.status:subscriptions",
    "metrics": "kiss.cli.status:metrics",
    "check": "kiss.cli.status:check",
    "resync": "kiss.cli.ops:resync",
    "drain": "kiss.cli.ops:drain",
    "undrain": "kiss.cli.ops:undrain",
    "channels": "kiss.cli.ops:channels",
    "run": "kiss.cli.run:run",
    "demo": "kiss.cli.run:demo_command",
    "control": "kiss.cli.control:control",
    "bot": "kiss.cli.bot:bot",
    "listener": "kiss.cli.listener:listener",
    "auth": "kiss.cli.auth:auth",
    "db": "kiss.cli.db:db",
}


class LazyGroup(click.Group):
    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module_name, attribute = self.lazy[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, lazy=SUBCOMMANDS)
@click.version_option(package_name="kiss-eventsub-hub")
def main() -> None:
    """Kiss EventSub Hub: Twitch EventSub for many bots, over Redis streams."""
