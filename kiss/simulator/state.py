"""The simulator's in-memory world: identities, sessions, subscriptions, conduits, counters.

Plain data with small queries; the rules that change it live in ``sessions``,
``subscriptions`` and ``conduits``, which take this object and ``now`` as arguments.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from kiss.simulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SimulatorConfig
from kiss.simulator.identity import Identity
from kiss.simulator.model import Conduit, Session, Subscription


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

    def __post_init__(self) -> None:
        if self.config.demo_client:
            self.identity.add_client(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)

    def seconds(self, twitch_seconds: float) -> float:
        return self.config.seconds(twitch_seconds)

    def session_subscriptions(self, session_id: str) -> Iterator[Subscription]:
        return (
            sub
            for sub in self.subscriptions.values()
            if sub.method == "websocket" and sub.session_id == session_id
        )

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
            del self.subscriptions[sub_id]
        closed = [
            s.id
            for s in self.sessions.values()
            if s.status == "closed" and not any(True for _ in self.session_subscriptions(s.id))
        ]
        for session_id in closed:
            del self.sessions[session_id]
        return doomed
