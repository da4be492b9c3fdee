"""Where a notification goes: a websocket subscription's session, or a conduit's shard.

A conduit hashes the channel to one shard; when that shard is disabled the event is retried
once on the next shard, then dropped (twitch-eventsub.md §3). A disabled shard is announced
to the client's ``conduit.shard.disabled`` subscriptions.
"""

from __future__ import annotations

import zlib

from kiss.simulator.twitch.model import Conduit, Shard, Subscription
from kiss.simulator.twitch.subscriptions import matching
from kiss.simulator.twitch.world import SimulatorState


def shard_index(channel: str, shard_count: int) -> int:
    return zlib.crc32(channel.encode()) % shard_count


def target_shard(state: SimulatorState, sub: Subscription) -> Shard | None:
    """The conduit shard that takes this subscription's next event, or None (dropped).

    A channel hashes to one shard; a disabled one is retried once on the next shard.
    """
    conduit = state.conduits.get(sub.conduit_id or "")
    if sub.method != "conduit" or conduit is None or not conduit.shards:
        return None
    count = conduit.shard_count
    first = shard_index(sub.channel or sub.id, count)
    for index in dict.fromkeys((first, (first + 1) % count)):
        shard = conduit.shards[index]
        if not shard.enabled:
            continue
        if shard.method == "webhook":
            return shard
        session = state.sessions.get(shard.session_id or "")
        if session is not None and session.live:
            return shard
    return None


def target_session(state: SimulatorState, sub: Subscription) -> str | None:
    """The live session that should receive this subscription's next event, or None."""
    if sub.method == "websocket":
        session = state.sessions.get(sub.session_id or "")
        return session.id if session is not None and session.live else None
    shard = target_shard(state, sub)
    return shard.session_id if shard is not None and shard.method == "websocket" else None


def shard_watchers(state: SimulatorState, conduit: Conduit) -> list[Subscription]:
    """The ``conduit.shard.disabled`` subscriptions of the conduit's client, for it or any."""
    return [
        sub
        for sub in matching(state.subscriptions.values(), "conduit.shard.disabled", "1", None, None)
        if sub.condition.get("client_id") == conduit.client_id
        and sub.condition.get("conduit_id") in (None, conduit.id)
    ]
