"""Routing: websocket subscriptions to their session, conduit ones to a hashed shard."""

from __future__ import annotations

from kiss.simulator import SimulatorConfig
from kiss.simulator.twitch.model import Conduit, Session, Subscription
from kiss.simulator.twitch.routing import shard_index, shard_watchers, target_session
from kiss.simulator.twitch.world import SimulatorState


def conduit_world(count: int) -> tuple[SimulatorState, Conduit]:
    state = SimulatorState(SimulatorConfig())
    conduit = Conduit("k", "c")
    conduit.resize(count)
    for shard in conduit.shards:
        session = Session(f"s{shard.id}", 10, "t", 0.0)
        state.sessions[session.id] = session
        shard.status, shard.session_id = "enabled", session.id
    state.conduits["k"] = conduit
    return state, conduit


def sub_for(channel: str) -> Subscription:
    return Subscription(
        "x",
        "stream.online",
        "1",
        {"broadcaster_user_id": channel},
        "conduit",
        "c",
        "t",
        1,
        conduit_id="k",
    )


def test_one_channel_one_shard() -> None:
    state, _ = conduit_world(4)
    channel = "123456"
    expected = f"s{shard_index(channel, 4)}"
    assert {target_session(state, sub_for(channel)) for _ in range(5)} == {expected}


def test_retry_once_on_the_next_shard_then_drop() -> None:
    state, conduit = conduit_world(3)
    channel = next(str(c) for c in range(100, 10_000) if shard_index(str(c), 3) == 2)
    conduit.shards[2].status = "websocket_disconnected"
    assert target_session(state, sub_for(channel)) == "s0"  # (2 + 1) % 3
    conduit.shards[0].status = "websocket_network_error"
    assert target_session(state, sub_for(channel)) is None  # not tried on shard 1


def test_websocket_subscription_goes_to_its_live_session() -> None:
    state = SimulatorState(SimulatorConfig())
    state.sessions["s"] = Session("s", 10, "t", 0.0)
    sub = Subscription("x", "stream.online", "1", {}, "websocket", "c", "t", 1, session_id="s")
    assert target_session(state, sub) == "s"
    state.sessions["s"].status = "closed"
    assert target_session(state, sub) is None
    webhook = Subscription(
        "y", "stream.online", "1", {}, "webhook", "c", "t", 1, callback="https://x"
    )
    assert target_session(state, webhook) is None


def test_shard_watchers_are_the_clients_for_this_conduit_or_any() -> None:
    state, conduit = conduit_world(1)

    def watcher(sub_id: str, condition: dict[str, str], status: str = "enabled") -> None:
        state.add_subscription(
            Subscription(
                sub_id,
                "conduit.shard.disabled",
                "1",
                condition,
                "websocket",
                "c",
                "t",
                0,
                status=status,
            )
        )

    watcher("any", {"client_id": conduit.client_id})
    watcher("this", {"client_id": conduit.client_id, "conduit_id": conduit.id})
    watcher("other-conduit", {"client_id": conduit.client_id, "conduit_id": "zz"})
    watcher("other-client", {"client_id": "someone-else"})
    watcher("disabled", {"client_id": conduit.client_id}, status="websocket_disconnected")
    assert sorted(sub.id for sub in shard_watchers(state, conduit)) == ["any", "this"]
