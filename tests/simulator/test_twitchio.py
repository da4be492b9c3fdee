"""TwitchIO 3's conduit client (AutoClient), unmodified, against the simulator (issue 13).

TwitchIO sends the conduit parameters in the query string and drops a chat message that
lacks a documented field: both used to fail here. It is pointed at the simulator through
its own constants: ``twitchio.http.Route.BASE`` / ``ID_BASE`` (Helix and OAuth) and
``twitchio.eventsub.websockets.WSS`` (the EventSub socket).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import twitchio
from twitchio import eventsub
from twitchio.eventsub import websockets as twitchio_websockets
from twitchio.http import Route

from kiss.simulator.testing import SimulatorControl, SimulatorHandle, run_simulator_process
from tests.waiting import wait_for_async as wait_for

BROADCASTER, BOT = "1001", "2002"


@pytest.fixture
def simulator() -> Iterator[SimulatorHandle]:
    with run_simulator_process(time_unit=0.1) as sim:
        yield sim


@pytest.fixture
def pointed_at(simulator: SimulatorHandle, monkeypatch: pytest.MonkeyPatch) -> SimulatorHandle:
    monkeypatch.setattr(Route, "BASE", f"{simulator.helix_url}/")
    monkeypatch.setattr(Route, "ID_BASE", f"{simulator.base_url}/")  # it appends oauth2/...
    monkeypatch.setattr(twitchio_websockets, "WSS", simulator.ws_url)
    return simulator


class ChatBot(twitchio.AutoClient):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.messages: asyncio.Queue[twitchio.ChatMessage] = asyncio.Queue()

    async def event_message(self, payload: twitchio.ChatMessage) -> None:
        await self.messages.put(payload)


async def _scenario(control: SimulatorControl) -> tuple[list[str], dict[str, Any]]:
    subscription = eventsub.ChatMessageSubscription(broadcaster_user_id=BROADCASTER, user_id=BOT)
    bot = ChatBot(
        client_id="kiss-demo-client",
        client_secret="kiss-demo-secret",
        subscriptions=[subscription],
        shard_ids=[0, 1],
    )
    running = asyncio.create_task(
        bot.start(with_adapter=False, load_tokens=False, save_tokens=False)
    )
    try:

        async def subscribed() -> bool:
            subs = await asyncio.to_thread(control.subscriptions)
            return any(s["status"] == "enabled" for s in subs)

        await wait_for(subscribed, within=30)  # TwitchIO subscribes once its shards are bound
        [conduit] = await asyncio.to_thread(control.conduits)
        texts = []
        for _ in range(2):
            await asyncio.to_thread(control.trigger, "channel.chat.message", BROADCASTER)
            message = await asyncio.wait_for(bot.messages.get(), 15)
            texts.append(message.text)
        return texts, conduit
    finally:
        await bot.close()
        running.cancel()  # start() waits for a close of its own; ours is done
        await asyncio.gather(running, return_exceptions=True)


def test_twitchio_autoclient_creates_a_conduit_binds_shards_and_gets_chat(
    pointed_at: SimulatorHandle, caplog: pytest.LogCaptureFixture
) -> None:
    control = SimulatorControl(pointed_at.base_url)
    control.user("broadcaster", BROADCASTER)
    control.user("kissbot", BOT)
    control.authorize(BOT, ["user:read:chat", "user:bot"])
    control.authorize(BROADCASTER, ["channel:bot"])
    with caplog.at_level(logging.WARNING, logger="twitchio"):
        texts, conduit = asyncio.run(_scenario(control))
    assert conduit["shard_count"] == 2
    assert texts == [texts[0]] * 2 and texts[0].startswith("Hi chat")
    # TwitchIO logs CRITICAL and drops an event that misses a field it expects.
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
