"""The client id and secret the hub talks to Twitch with (the simulator's demo pair if unset)."""

from __future__ import annotations

from kiss.settings import Settings

DEMO_CLIENT_ID = "kiss-demo-client"
DEMO_CLIENT_SECRET = "kiss-demo-secret"  # noqa: S105 - the simulator's public demo credentials


def client_credentials(settings: Settings) -> tuple[str, str]:
    if settings.twitch.configured:
        return settings.twitch.client_id, settings.twitch.client_secret
    return DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
