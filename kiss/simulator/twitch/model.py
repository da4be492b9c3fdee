"""The simulator's records: sessions, subscriptions, conduits and shards, as Twitch shows them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiss.eventsub import catalog

JSON = dict[str, Any]
Owner = tuple[str, str | None]  # (client_id, user_id); user_id None for app-token subscriptions
AlikeKey = tuple[Owner, str, str, frozenset[tuple[str, str]]]

# Close code -> the status its subscriptions (or its conduit shard) get (twitch-eventsub.md §1.5).
CLOSE_STATUS: dict[int, str] = {
    4000: "websocket_internal_error",
    4001: "websocket_received_inbound_traffic",
    4002: "websocket_failed_ping_pong",
    4003: "websocket_connection_unused",
    4004: "websocket_failed_to_reconnect",
    4005: "websocket_network_timeout",
    4006: "websocket_network_error",
    4007: "websocket_disconnected",
}
CLOSE_REASON: dict[int, str] = {
    4000: "internal server error",
    4001: "sent inbound traffic",
    4002: "failed ping pong",
    4003: "connection unused",
    4004: "client reconnect grace time expired",
    4005: "network timeout",
    4006: "network error",
    4007: "invalid reconnect attempt",
}
CLIENT_CLOSED_STATUS = "websocket_disconnected"


@dataclass
class Session:
    id: str
    keepalive: int
    connected_at: str
    opened: float  # epoch seconds of the welcome
    status: str = "connected"  # connected | reconnecting | closed
    owner: tuple[str, str] | None = None  # (client_id, user_id) of its websocket subscriptions
    shard: tuple[str, str] | None = None  # (conduit_id, shard_id) it serves
    used: bool = False  # got a subscription or a shard binding: no 4003
    reconnect_id: str | None = None
    reconnect_deadline: float | None = None
    disconnected_at: str | None = None

    @property
    def live(self) -> bool:
        return self.status != "closed"

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "status": self.status,
            "connected_at": self.connected_at,
            "disconnected_at": self.disconnected_at,
            "keepalive_timeout_seconds": self.keepalive,
            "user_id": self.owner[1] if self.owner else None,
            "client_id": self.owner[0] if self.owner else None,
            "conduit_id": self.shard[0] if self.shard else None,
            "shard_id": self.shard[1] if self.shard else None,
        }


@dataclass
class Subscription:
    id: str
    type: str
    version: str
    condition: dict[str, str]
    method: str  # websocket | conduit | webhook
    client_id: str
    created_at: str
    cost: int
    status: str = "enabled"
    user_id: str | None = None  # the token user of a websocket subscription
    session_id: str | None = None
    conduit_id: str | None = None
    callback: str | None = None
    secret: str | None = field(default=None, repr=False)  # webhook HMAC key; never shown
    connected_at: str | None = None
    disconnected_at: str | None = None
    disabled_at: float | None = None  # epoch seconds; listed until retention passes
    webhook_failures: int = 0

    @property
    def enabled(self) -> bool:
        return self.status == "enabled"

    @property
    def channel(self) -> str | None:
        return catalog.channel_of(self.type, self.version, self.condition)

    @property
    def owner(self) -> Owner:
        """Whose budget it counts against: client + user (websocket) or the client (app)."""
        return (self.client_id, self.user_id if self.method == "websocket" else None)

    @property
    def alike_key(self) -> AlikeKey:
        return (self.owner, self.type, self.version, frozenset(self.condition.items()))

    def transport(self) -> JSON:
        if self.method == "websocket":
            transport: JSON = {"method": "websocket", "session_id": self.session_id}
            if self.connected_at is not None:
                transport["connected_at"] = self.connected_at
            if self.disconnected_at is not None:
                transport["disconnected_at"] = self.disconnected_at
            return transport
        if self.method == "conduit":
            return {"method": "conduit", "conduit_id": self.conduit_id}
        return {"method": "webhook", "callback": self.callback}

    def to_json(self) -> JSON:
        return {
            "id": self.id,
            "status": self.status,
            "type": self.type,
            "version": self.version,
            "condition": self.condition,
            "created_at": self.created_at,
            "transport": self.transport(),
            "cost": self.cost,
        }

    def notification_json(self) -> JSON:
        """The subscription as a notification carries it (no disconnected_at, ever)."""
        data = self.to_json()
        if self.method == "websocket":
            data["transport"] = {"method": "websocket", "session_id": self.session_id}
        return data


@dataclass
class Shard:
    id: str
    status: str = "websocket_disconnected"
    method: str = "websocket"
    session_id: str | None = None
    callback: str | None = None
    secret: str | None = field(default=None, repr=False)  # webhook HMAC key; never shown
    connected_at: str | None = None
    disconnected_at: str | None = None
    webhook_failures: int = 0

    @property
    def enabled(self) -> bool:
        return self.status == "enabled"

    def to_json(self) -> JSON:
        if self.method == "webhook":
            transport: JSON = {"method": "webhook", "callback": self.callback}
        else:
            transport = {"method": "websocket", "session_id": self.session_id}
            if self.connected_at is not None:
                transport["connected_at"] = self.connected_at
            if self.disconnected_at is not None:
                transport["disconnected_at"] = self.disconnected_at
        return {"id": self.id, "status": self.status, "transport": transport}


@dataclass
class Conduit:
    id: str
    client_id: str
    shards: list[Shard] = field(default_factory=list)
    all_disabled_since: float | None = None

    @property
    def shard_count(self) -> int:
        return len(self.shards)

    def resize(self, count: int) -> None:
        """Shrinking drops the top shard ids; growing adds unassigned shards."""
        del self.shards[count:]
        self.shards.extend(Shard(str(i)) for i in range(len(self.shards), count))

    def to_json(self) -> JSON:
        return {"id": self.id, "shard_count": self.shard_count}
