"""Demo mode: with no Twitch credentials, the local run talks to the bundled simulator.

The simulator gets a few broadcasters whose user tokens (minted through its control API) go
into the hub's token store, as ``kiss auth login`` would put them; the hub's processes get
its URLs through ``KISSBOT_TWITCH__*``; and a low-rate load sends events to those channels
so that a newcomer sees them reach the example bots.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from kiss.simulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from kiss.simulator.testing import SimulatorControl
from kiss.store.crypto import TokenCipher
from kiss.store.tokens import USER, save_token

# What the example bots subscribe to and the load sends: needs no chat scopes.
DEMO_EVENT_TYPE = "channel.follow"
DEMO_SCOPES = ("moderator:read:followers", "channel:bot", "user:read:chat")


@dataclass(frozen=True)
class DemoChannel:
    channel_id: str
    login: str


def free_port(host: str = "127.0.0.1") -> int:
    """A port free right now (the child binds it a moment later; a clash fails loudly)."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


def simulator_env(base_url: str) -> dict[str, str]:
    """The settings that point every hub process at the simulator."""
    ws_url = base_url.replace("http://", "ws://", 1) + "/ws"
    return {
        "KISSBOT_TWITCH__CLIENT_ID": DEMO_CLIENT_ID,
        "KISSBOT_TWITCH__CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "KISSBOT_TWITCH__EVENTSUB_WS_URL": ws_url,
        "KISSBOT_TWITCH__HELIX_URL": f"{base_url}/helix",
        "KISSBOT_TWITCH__OAUTH_URL": f"{base_url}/oauth2",
    }


def create_channels(control: SimulatorControl, count: int) -> list[DemoChannel]:
    """Broadcasters on the simulator."""
    channels = []
    for index in range(1, count + 1):
        user = control.user(f"demo_streamer_{index}")
        channels.append(DemoChannel(user["user_id"], user["login"]))
    return channels


def store_tokens(
    control: SimulatorControl,
    channels: list[DemoChannel],
    sessions: sessionmaker[Session],
    cipher: TokenCipher,
) -> None:
    """Each broadcaster authorizes the demo application; the hub keeps the user token."""
    with sessions.begin() as session:
        for channel in channels:
            grant = control.token(user_id=channel.channel_id, scopes=DEMO_SCOPES)
            save_token(
                session,
                cipher,
                kind=USER,
                user_id=channel.channel_id,
                login=channel.login,
                scopes=grant["scopes"],
                access_token=grant["access_token"],
                refresh_token=grant.get("refresh_token"),
                expires_at=datetime.now(UTC) + timedelta(seconds=float(grant["expires_in"])),
            )


def start_load(control: SimulatorControl, channels: list[DemoChannel], rate: float) -> str:
    """Events to the demo channels at ``rate`` per second until the simulator stops."""
    return control.load(
        rate=rate,
        channels=[channel.channel_id for channel in channels],
        duration=7 * 24 * 3600.0,
        type_=DEMO_EVENT_TYPE,
    )
