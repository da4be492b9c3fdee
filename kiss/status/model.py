"""Plain data of the hub's status; ``as_json`` is what ``kiss status --json`` prints."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True)
class ListenerStatus:
    listener_id: str
    alive: bool
    state: str  # the listener's own word: up, connecting, down, draining...
    sessions: int = 0
    shards: tuple[str, ...] = ()
    problems: str = ""  # the listener's own account of what is not up, e.g. "shard 0 is dialing"


@dataclass(frozen=True)
class ShardStatus:
    shard_id: str
    holder: str | None  # listener holding the lease, None when nobody does


@dataclass(frozen=True)
class MissingSubscription:
    channel_id: str
    type: str
    version: str
    state: str
    reason: str


@dataclass(frozen=True)
class BotStatus:
    bot: str
    state: str
    alive: bool
    lag: int | None
    pending: int
    last_seen: float | None


@dataclass(frozen=True)
class ChannelStatus:
    channel_id: str
    name: str
    desired: int
    active: int
    bots: tuple[BotStatus, ...] = ()


@dataclass(frozen=True)
class SubscriptionRow:
    """One desired subscription and where placing it stands (``kiss subscriptions``)."""

    channel_id: str
    type: str
    version: str
    condition: str
    state: str
    reason: str
    subscription_id: str
    requested_by: str


@dataclass(frozen=True)
class HubStatus:
    now: float
    transport: str
    draining: bool
    listeners: tuple[ListenerStatus, ...]
    conduit_id: str | None
    shards: tuple[ShardStatus, ...]
    desired: int
    active: int
    missing: tuple[MissingSubscription, ...]
    last_reconcile_at: float | None
    last_reconcile_outcome: str
    counters: dict[str, int] = field(default_factory=dict)
    channels: tuple[ChannelStatus, ...] = ()
    processes: dict[str, bool] = field(default_factory=dict)  # heartbeat name -> alive
    # Who reconciles now: "<worker> pid <n> (fence <n>, expires in <s> s)", "" when nobody.
    reconcile_holder: str = ""

    @property
    def up(self) -> bool:
        """Events can flow: a live listener and, on a conduit, every shard held."""
        if not any(listener.alive for listener in self.listeners):
            return False
        if self.transport == "conduit":
            return bool(self.shards) and all(shard.holder for shard in self.shards)
        return any(listener.sessions for listener in self.listeners if listener.alive)

    def as_json(self) -> dict[str, Any]:
        """JSON-native (lists, not tuples), so tests compare what scripts will read."""
        document: dict[str, Any] = orjson.loads(orjson.dumps(asdict(self)))
        document["up"] = self.up
        return document
