"""The dispatcher between state and sockets, with a recording link in place of a socket."""

from __future__ import annotations

import orjson
import pytest

from kiss.simulator import SimulatorConfig
from kiss.simulator.adapters.dispatcher import Dispatcher
from kiss.simulator.faults import RawFrame
from kiss.simulator.twitch import sessions
from kiss.simulator.twitch.model import Subscription
from kiss.simulator.twitch.problems import TwitchProblem
from kiss.simulator.twitch.world import SimulatorState


class RecordingLink:
    """Satisfies the Link protocol; ``broken`` makes writes fail like a vanished client."""

    def __init__(self, broken: bool = False) -> None:
        self.sent: list[str] = []
        self.closed_with: int | None = None
        self.broken = broken

    async def send(self, text: str) -> None:
        if self.broken:
            raise ConnectionResetError("gone")
        self.sent.append(text)

    async def send_many(self, texts: list[str]) -> None:
        for text in texts:
            await self.send(text)

    async def send_raw(self, frames: list[RawFrame]) -> None:
        for frame in frames:
            await self.send(frame.data.decode(errors="replace"))

    async def close(self, code: int) -> None:
        self.closed_with = code

    def drop(self) -> None:
        self.closed_with = 1006

    def silence(self, silent: bool) -> None:
        self.broken = silent

    @property
    def open(self) -> bool:
        return self.closed_with is None


def world(link: RecordingLink) -> tuple[Dispatcher, Subscription]:
    state = SimulatorState(SimulatorConfig())
    dispatcher = Dispatcher(state, clock=lambda: 1_700_000_000.0)
    session = sessions.open_session(state, 10, 0.0)
    sub = Subscription(
        "s1",
        "stream.online",
        "1",
        {"broadcaster_user_id": "7"},
        "websocket",
        "c",
        "t",
        1,
        session_id=session.id,
    )
    state.add_subscription(sub)
    dispatcher.links[session.id] = link
    return dispatcher, sub


async def test_trigger_delivers_with_the_clock_timestamp() -> None:
    link = RecordingLink()
    dispatcher, _ = world(link)
    [message_id] = await dispatcher.trigger("stream.online", None, "7", None, None, 1)
    frame = orjson.loads(link.sent[0])
    assert frame["metadata"]["message_id"] == message_id
    assert frame["metadata"]["message_timestamp"].startswith("2023-11-14T22:13:20.")
    assert dispatcher.state.stats.notifications_sent == 1


async def test_a_vanished_client_counts_as_dropped() -> None:
    dispatcher, sub = world(RecordingLink(broken=True))
    assert await dispatcher.trigger("stream.online", None, "7", None, None, 2) == []
    assert dispatcher.state.stats.notifications_dropped == 2
    assert (await dispatcher.revoke(sub.id, "user_removed")).status == "user_removed"
    assert dispatcher.state.stats.revocations_sent == 0


async def test_close_and_reconnect_checks() -> None:
    link = RecordingLink()
    dispatcher, sub = world(link)
    assert sub.session_id is not None
    with pytest.raises(TwitchProblem, match="4000-4007"):
        await dispatcher.close(sub.session_id, 1000)
    await dispatcher.close(sub.session_id, 4002)
    assert link.closed_with == 4002
    with pytest.raises(TwitchProblem, match="not connected"):
        await dispatcher.reconnect(sub.session_id, "ws://x/ws")
    with pytest.raises(TwitchProblem, match="unknown subscription type"):
        await dispatcher.trigger("nope", None, None, None, None, 1)


async def test_drop_and_silence_reach_the_link() -> None:
    link = RecordingLink()
    dispatcher, sub = world(link)
    assert sub.session_id is not None
    dispatcher.silence(sub.session_id, True)
    assert await dispatcher.trigger("stream.online", None, "7", None, None, 1) == []
    dispatcher.silence(sub.session_id, False)
    dispatcher.drop(sub.session_id)
    assert link.closed_with == 1006
    with pytest.raises(TwitchProblem, match="not connected"):
        dispatcher.drop(sub.session_id)
