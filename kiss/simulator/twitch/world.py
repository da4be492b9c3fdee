"""The simulator's in-memory world: identities, sessions, subscriptions, conduits, counters.

Plain data with small queries; the rules that change it live in ``sessions``,
``subscriptions`` and ``conduits``, which take this object and ``now`` as arguments.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from kiss.simulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SimulatorConfig
from kiss.simulator.twitch.identity import Identity
from kiss.simulator.twitch.model import AlikeKey, Conduit, Owner, Session, Subscription

K = TypeVar("K", bound=Hashable)


@dataclass
class Stats:
    notifications_sent: int = 0
    notifications_dropped: int = 0
    keepalives_sent: int = 0
    revocations_sent: int = 0
    by_session: Counter[str] = field(default_factory=Counter)
    closes: Counter[int] = field(default_factory=Counter)
    helix_requests: int = 0
    rate_limited: int = 0

    def to_json(self) -> dict[str, object]:
        return {
            "notifications_sent": self.notifications_sent,
            "notifications_dropped": self.notifications_dropped,
            "keepalives_sent": self.keepalives_sent,
            "revocations_sent": self.revocations_sent,
            "by_session": dict(self.by_session),
            "closes": {str(code): count for code, count in self.closes.items()},
            "helix_requests": self.helix_requests,
            "rate_limited": self.rate_limited,
        }


@dataclass
class SimulatorState:
    config: SimulatorConfig
    identity: Identity = field(default_factory=Identity)
    sessions: dict[str, Session] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)  # in creation order
    conduits: dict[str, Conduit] = field(default_factory=dict)
    stats: Stats = field(default_factory=Stats)
    # Indexes kept by add/remove/disable, so a create stays O(1) with 10,000s of subscriptions.
    _owned: dict[Owner, dict[str, Subscription]] = field(default_factory=dict, repr=False)
    _enabled_cost: Counter[Owner] = field(default_factory=Counter, repr=False)
    _alike: dict[AlikeKey, dict[str, Subscription]] = field(default_factory=dict, repr=False)
    _on_session: dict[str, dict[str, Subscription]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.config.demo_client:
            self.identity.add_client(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)

    def seconds(self, twitch_seconds: float) -> float:
        return self.config.seconds(twitch_seconds)

    # -- subscriptions and their indexes ------------------------------------------
    def add_subscription(self, sub: Subscription) -> None:
        self.subscriptions[sub.id] = sub
        self._owned.setdefault(sub.owner, {})[sub.id] = sub
        self._alike.setdefault(sub.alike_key, {})[sub.id] = sub
        if sub.method == "websocket" and sub.session_id is not None:
            self._on_session.setdefault(sub.session_id, {})[sub.id] = sub
        if sub.enabled:
            self._enabled_cost[sub.owner] += sub.cost

    def remove_subscription(self, sub_id: str) -> Subscription | None:
        sub = self.subscriptions.pop(sub_id, None)
        if sub is None:
            return None
        if sub.enabled:
            self._enabled_cost[sub.owner] -= sub.cost
        _unindex(self._owned, sub.owner, sub.id)
        _unindex(self._alike, sub.alike_key, sub.id)
        if sub.session_id is not None:
            _unindex(self._on_session, sub.session_id, sub.id)
        return sub

    def disable(self, sub: Subscription, status: str, now: float) -> None:
        """An enabled subscription stops: it stays listed until the retention passes."""
        if sub.enabled and sub.id in self.subscriptions:
            self._enabled_cost[sub.owner] -= sub.cost
        sub.status = status
        if sub.disabled_at is None:  # listed for the retention from when it first stopped
            sub.disabled_at = now

    def enable(self, sub: Subscription) -> None:
        """A pending (webhook) subscription passed its verification."""
        if not sub.enabled and sub.id in self.subscriptions:
            self._enabled_cost[sub.owner] += sub.cost
        sub.status = "enabled"
        sub.disabled_at = None

    def owned(self, owner: Owner) -> list[Subscription]:
        return list(self._owned.get(owner, {}).values())

    def owned_count(self, owner: Owner) -> int:
        return len(self._owned.get(owner, ()))

    def enabled_cost(self, owner: Owner) -> int:
        return self._enabled_cost[owner]

    def alike(self, key: AlikeKey) -> list[Subscription]:
        return list(self._alike.get(key, {}).values())

    def session_subscriptions(self, session_id: str) -> list[Subscription]:
        return list(self._on_session.get(session_id, {}).values())

    def conduit_subscriptions(self, conduit_id: str) -> Iterator[Subscription]:
        return (
            sub
            for sub in self.subscriptions.values()
            if sub.method == "conduit" and sub.conduit_id == conduit_id
        )

    def purge_disabled(self, now: float) -> list[str]:
        """Forget disabled subscriptions listed longer than the retention; their ids."""
        horizon = now - self.seconds(self.config.disabled_retention)
        doomed = [
            sub.id
            for sub in self.subscriptions.values()
            if sub.disabled_at is not None and sub.disabled_at <= horizon
        ]
        for sub_id in doomed:
            self.remove_subscription(sub_id)
        closed = [
            s.id
            for s in self.sessions.values()
            if s.status == "closed" and s.id not in self._on_session
        ]
        for session_id in closed:
            del self.sessions[session_id]
        return doomed


def _unindex(index: dict[K, dict[str, Subscription]], key: K, sub_id: str) -> None:
    bucket = index.get(key)
    if bucket is not None:
        bucket.pop(sub_id, None)
        if not bucket:
            del index[key]
