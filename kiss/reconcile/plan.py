"""``plan(desired, active, limits) -> Plan``: what to create, delete, and what cannot be placed.

Pure: no I/O, no clock (``limits.now``). Twitch's rules (twitch-eventsub.md §2) are checked
here, so the executor never learns them from a 429 it could have foreseen:
cost budget (per client id for conduits, per user for websockets), 300 subscriptions per
connection, 3 connections per user, one user per session, 3 subscriptions per type+condition,
and the scope a type needs (the topic's own rule, ``Topic.scope_problem``, which the control
process applies too).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from kiss.errors import UnknownTopic
from kiss.eventsub import catalog

Key = tuple[str, str, str]  # type, version, canonical condition


@dataclass(frozen=True, slots=True)
class Desired:
    id: int
    channel_id: str
    type: str
    version: str
    condition: str  # canonical JSON
    transport: str  # "conduit" | "websocket"
    state: str = "pending"
    next_attempt_at: float | None = None

    @property
    def key(self) -> Key:
        return (self.type, self.version, self.condition)


@dataclass(frozen=True, slots=True)
class Active:
    id: str
    type: str
    version: str
    condition: str  # canonical JSON
    status: str
    cost: int
    method: str
    session_id: str | None = None
    conduit_id: str | None = None

    @property
    def key(self) -> Key:
        return (self.type, self.version, self.condition)


@dataclass(frozen=True, slots=True)
class Limits:
    now: float
    conduit_id: str | None = None
    sessions: Mapping[str, str] = field(default_factory=dict)  # welcomed session -> user id
    scopes: Mapping[str, frozenset[str]] = field(default_factory=dict)  # user -> granted
    invalid_users: Mapping[str, str] = field(default_factory=dict)  # user -> why
    app_max_total_cost: int = 10_000
    websocket_max_total_cost: int = 10
    per_connection: int = 300
    connections_per_user: int = 3
    same_type_condition: int = 3


@dataclass(frozen=True, slots=True)
class Create:
    desired: Desired
    transport: dict[str, str]
    user_id: str | None  # whose token; None: the app token
    cost: int


@dataclass(frozen=True, slots=True)
class Delete:
    active: Active
    reason: str
    stale: bool  # already dead on Twitch (disabled, old session/conduit): no budget freed


@dataclass(frozen=True, slots=True)
class Unplaced:
    desired: Desired
    reason: str
    waiting: bool  # True: will place by itself later (no conduit yet, retry not due)


@dataclass(frozen=True, slots=True)
class Plan:
    create: tuple[Create, ...] = ()
    delete: tuple[Delete, ...] = ()
    keep: tuple[tuple[Desired, Active], ...] = ()
    unplaced: tuple[Unplaced, ...] = ()
    # (user, sessions): users whose sessions are full, and how many they need; the listener
    # opens the next session (Twitch allows 3 per user) and the reconciler fills it.
    sessions_wanted: tuple[tuple[str, int], ...] = ()

    @property
    def in_sync(self) -> bool:
        return not self.create and not self.delete


def condition_of(desired: Desired | Active) -> dict[str, Any]:
    value = orjson.loads(desired.condition)
    return value if isinstance(value, dict) else {}


def authorization(limits: Limits, user_id: str) -> catalog.Authorization | None:
    """What the planner knows of a user's grant: their valid token's scopes, why it is
    invalid, or None when the hub stores no token of theirs."""
    if user_id in limits.invalid_users:
        return catalog.Authorization(invalid=limits.invalid_users[user_id])
    scopes = limits.scopes.get(user_id)
    return None if scopes is None else catalog.Authorization(scopes=scopes)


class _Placement:
    """Running totals while creates are added, so each check sees the earlier ones."""

    def __init__(self, limits: Limits, kept: Iterable[Active]) -> None:
        self.limits = limits
        self.app_cost = 0
        self.user_cost: Counter[str] = Counter()
        self.per_session: Counter[str] = Counter()
        self.per_type_condition: Counter[tuple[str, str]] = Counter()
        self.user_sessions: dict[str, list[str]] = defaultdict(list)
        self.sessions_wanted: dict[str, int] = {}
        for session_id, user_id in sorted(limits.sessions.items()):
            self.user_sessions[user_id].append(session_id)
        for active in kept:
            self.per_type_condition[(active.type, active.condition)] += 1
            if active.method == "websocket" and active.session_id:
                self.per_session[active.session_id] += 1
                user = limits.sessions.get(active.session_id, "")
                self.user_cost[user] += active.cost
            else:
                self.app_cost += active.cost

    def place(self, desired: Desired) -> Create | Unplaced:
        limits = self.limits
        try:
            topic = catalog.lookup(desired.type, desired.version)
        except UnknownTopic as error:
            return Unplaced(desired, str(error), waiting=False)
        condition = condition_of(desired)
        owner = topic.owner_of(condition)
        missing = topic.scope_problem(
            condition, desired.transport, lambda user_id: authorization(limits, user_id)
        )
        if missing:
            return Unplaced(desired, missing, waiting=False)
        pair = (desired.type, desired.condition)
        if self.per_type_condition[pair] >= limits.same_type_condition:
            return Unplaced(
                desired,
                f"duplicate type+condition: {limits.same_type_condition} subscriptions of "
                f"{desired.type} with this condition already exist",
                waiting=False,
            )
        channel = topic.channel_of(condition)
        cost = topic.cost(bool(channel and limits.scopes.get(channel)))
        if desired.transport == "websocket":
            placed = self._place_websocket(desired, owner, cost)
        else:
            placed = self._place_conduit(desired, cost)
        if isinstance(placed, Create):
            self.per_type_condition[pair] += 1
        return placed

    def _place_conduit(self, desired: Desired, cost: int) -> Create | Unplaced:
        limits = self.limits
        if not limits.conduit_id:
            return Unplaced(desired, "waiting for the listener's conduit", waiting=True)
        if self.app_cost + cost > limits.app_max_total_cost:
            return Unplaced(
                desired,
                f"cost budget exceeded: {self.app_cost} of {limits.app_max_total_cost} used",
                waiting=False,
            )
        self.app_cost += cost
        transport = {"method": "conduit", "conduit_id": limits.conduit_id}
        return Create(desired, transport, None, cost)

    def _place_websocket(self, desired: Desired, owner: str | None, cost: int) -> Create | Unplaced:
        limits = self.limits
        if owner is None:
            return Unplaced(desired, "no user in the condition to own the token", waiting=False)
        sessions = self.user_sessions.get(owner, [])
        if not sessions:
            others = len(limits.sessions)
            note = f" ({others} session(s) of other users: one user per session)" if others else ""
            return Unplaced(desired, f"waiting for a websocket session of user {owner}{note}", True)
        free = [s for s in sessions if self.per_session[s] < limits.per_connection]
        if not free:
            if len(sessions) >= limits.connections_per_user:
                return Unplaced(
                    desired,
                    f"user {owner}: {limits.connections_per_user} connections of "
                    f"{limits.per_connection} subscriptions are full",
                    waiting=False,
                )
            self.sessions_wanted[owner] = len(sessions) + 1
            return Unplaced(
                desired,
                f"user {owner}: every connection holds {limits.per_connection}; "
                "waiting for another connection",
                waiting=True,
            )
        if self.user_cost[owner] + cost > limits.websocket_max_total_cost:
            return Unplaced(
                desired,
                f"cost budget of user {owner} exceeded: {self.user_cost[owner]} of "
                f"{limits.websocket_max_total_cost} used",
                waiting=False,
            )
        session_id = min(free, key=lambda s: (self.per_session[s], s))
        self.per_session[session_id] += 1
        self.user_cost[owner] += cost
        return Create(desired, {"method": "websocket", "session_id": session_id}, owner, cost)


def _usable(active: Active, limits: Limits) -> str | None:
    """None when ``active`` is live on the current transport, else why it is stale."""
    if active.status != "enabled":
        return f"status {active.status}"
    if active.method == "conduit":
        if active.conduit_id != limits.conduit_id:
            return f"on conduit {active.conduit_id}, not the current one"
        return None
    if active.method == "websocket":
        if active.session_id not in limits.sessions:
            return f"websocket session {active.session_id} is gone"
        return None
    return f"transport {active.method} is not used by the hub"


def _blocked(desired: Desired, now: float) -> Unplaced | None:
    if desired.state == "revoked":
        return Unplaced(desired, "revoked by Twitch", waiting=False)
    if desired.state in ("failed", "retrying"):
        if desired.next_attempt_at is None:
            return Unplaced(desired, "failed permanently", waiting=False)
        if desired.next_attempt_at > now:
            return Unplaced(desired, "retry not due yet", waiting=True)
    return None


def session_channels(
    the_plan: Plan, active: Iterable[Active], limits: Limits
) -> dict[str, set[str]]:
    """The channels each welcomed websocket session carries once the plan is carried out:
    its enabled subscriptions and the ones the plan creates on it."""
    channels: dict[str, set[str]] = {session_id: set() for session_id in limits.sessions}
    for sub in active:
        if sub.method == "websocket" and sub.session_id in channels:
            channel = catalog.channel_of(sub.type, sub.version, condition_of(sub))
            if channel is not None:
                channels[sub.session_id].add(channel)
    for create in the_plan.create:
        session_id = create.transport.get("session_id")
        if session_id in channels:
            channels[session_id].add(create.desired.channel_id)
    return channels


def plan(desired: Sequence[Desired], active: Sequence[Active], limits: Limits) -> Plan:
    stale: list[Delete] = []
    usable: dict[Key, list[Active]] = defaultdict(list)
    for sub in active:
        why = _usable(sub, limits)
        if why is None:
            usable[sub.key].append(sub)
        else:
            stale.append(Delete(sub, why, stale=True))

    keep: list[tuple[Desired, Active]] = []
    unmatched: list[Desired] = []
    blocked: list[Unplaced] = []
    for want in desired:
        candidates = usable.get(want.key)
        match = None
        if candidates:
            for index, sub in enumerate(candidates):
                if sub.method == want.transport:
                    match = candidates.pop(index)
                    break
        if match is not None:
            keep.append((want, match))
            continue
        reason = _blocked(want, limits.now)
        if reason is None:
            unmatched.append(want)
        else:
            blocked.append(reason)

    orphans = [
        Delete(sub, "orphan: no desired subscription", stale=False)
        for subs in usable.values()
        for sub in subs
    ]
    placement = _Placement(limits, (sub for _, sub in keep))
    creates: list[Create] = []
    unplaced: list[Unplaced] = list(blocked)
    planned: dict[Key, int] = {}
    for want in unmatched:
        if want.key in planned:  # another channel wants the very same subscription
            shared = f"shares the subscription of desired #{planned[want.key]}"
            unplaced.append(Unplaced(want, shared, waiting=True))
            continue
        placed = placement.place(want)
        if isinstance(placed, Create):
            planned[want.key] = want.id
            creates.append(placed)
        else:
            unplaced.append(placed)
    return Plan(
        create=tuple(creates),
        delete=tuple(orphans + stale),
        keep=tuple(keep),
        unplaced=tuple(unplaced),
        sessions_wanted=tuple(sorted(placement.sessions_wanted.items())),
    )
