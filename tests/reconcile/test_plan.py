"""The planner from a table: each row is desired + active + limits -> creates, deletes, unplaced."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from kiss.reconcile.plan import Active, Desired, Limits, plan, session_channels
from kiss.store.subscriptions import canonical

NOW = 1_000.0
CONDUIT = "conduit-1"


def want(
    id: int,
    channel: str = "100",
    type: str = "stream.online",
    version: str = "1",
    transport: str = "conduit",
    state: str = "pending",
    next_attempt_at: float | None = None,
    **condition: str,
) -> Desired:
    cond = condition or {"broadcaster_user_id": channel}
    return Desired(id, channel, type, version, canonical(cond), transport, state, next_attempt_at)


def have(
    id: str,
    channel: str = "100",
    type: str = "stream.online",
    version: str = "1",
    status: str = "enabled",
    cost: int = 1,
    method: str = "conduit",
    session_id: str | None = None,
    conduit_id: str | None = CONDUIT,
    **condition: str,
) -> Active:
    cond = condition or {"broadcaster_user_id": channel}
    if method == "websocket":
        conduit_id = None
    return Active(id, type, version, canonical(cond), status, cost, method, session_id, conduit_id)


@dataclass
class Row:
    name: str
    desired: list[Desired]
    active: list[Active]
    limits: Limits = field(default_factory=lambda: Limits(now=NOW, conduit_id=CONDUIT))
    creates: list[int] = field(default_factory=list)  # desired ids
    deletes: list[str] = field(default_factory=list)  # active ids
    unplaced: dict[int, str] = field(default_factory=dict)  # desired id -> reason fragment
    waiting: set[int] = field(default_factory=set)


def limits(**kwargs: object) -> Limits:
    return replace(Limits(now=NOW, conduit_id=CONDUIT), **kwargs)  # type: ignore[arg-type]


ANY = frozenset({"bits:read"})
WS = {"s1": "100"}
KEPT_TOPICS = [("channel.update", "1"), ("channel.update", "2"), ("stream.online", "1")]
WS_KEPT_DESIRED = [
    want(i, transport="websocket", type=t, version=v) for i, (t, v) in enumerate(KEPT_TOPICS, 1)
]


def ws_kept_active(sessions: list[str], cost: int = 0) -> list[Active]:
    return [
        have(f"k{i}", method="websocket", session_id=session, type=t, version=v, cost=cost)
        for i, (session, (t, v)) in enumerate(zip(sessions, KEPT_TOPICS, strict=False))
    ]


WS_NEW = want(5, transport="websocket", type="stream.offline")

# fmt: off
ROWS = [
    Row("empty", [], []),
    Row("create from empty", [want(1), want(2, "200")], [], creates=[1, 2]),
    Row("in sync", [want(1)], [have("a")]),
    Row("orphan deleted", [], [have("a")], deletes=["a"]),
    Row("disabled recreated", [want(1)], [have("a", status="websocket_disconnected")],
        creates=[1], deletes=["a"]),
    Row("old conduit recreated", [want(1)], [have("a", conduit_id="old")], creates=[1],
        deletes=["a"]),
    Row("duplicate active pruned", [want(1)], [have("a"), have("b")], deletes=["b"]),
    Row("no conduit yet waits", [want(1)], [], limits=limits(conduit_id=None),
        unplaced={1: "conduit"}, waiting={1}),
    Row("app cost budget", [want(1), want(2, "200"), want(4, "400")], [have("a", "400")],
        limits=limits(app_max_total_cost=2), creates=[1], unplaced={2: "cost budget"}),
    Row("authorized broadcasters cost 0", [want(1), want(2, "200")], [],
        limits=limits(app_max_total_cost=0, scopes={"100": ANY, "200": ANY}), creates=[1, 2]),
    Row("two channels desiring one key share one subscription", [want(1), want(2)], [],
        creates=[1], unplaced={2: "shares"}, waiting={2}),
    Row("missing scope", [want(1, type="channel.cheer")], [],
        limits=limits(scopes={"100": frozenset()}), unplaced={1: "bits:read"}),
    Row("no stored token: a conduit sub is asked of Twitch", [want(1, type="channel.cheer")], [],
        creates=[1]),
    Row("scope granted", [want(1, type="channel.cheer")], [],
        limits=limits(scopes={"100": ANY}), creates=[1]),
    Row("chat on conduit needs user:bot and channel:bot",
        [want(1, type="channel.chat.message", broadcaster_user_id="100", user_id="9")], [],
        limits=limits(scopes={"9": frozenset({"user:read:chat", "user:bot"}), "100": ANY}),
        unplaced={1: "channel:bot"}),
    Row("duplicate type+condition limit",
        [want(1, type="channel.update", version="2"), want(2, type="channel.update")],
        [have("a", type="channel.update", version="2")],
        limits=limits(same_type_condition=1), unplaced={2: "duplicate type+condition"}),
    Row("websocket waits for a session of its user", [want(1, transport="websocket")], [],
        limits=limits(sessions={"s9": "999"}), unplaced={1: "one user per session"},
        waiting={1}),
    Row("websocket placed on its user's session", [want(1, transport="websocket")], [],
        limits=limits(sessions=WS), creates=[1]),
    Row("websocket on a gone session recreated", [want(1, transport="websocket")],
        [have("a", method="websocket", session_id="old")], limits=limits(sessions=WS),
        creates=[1], deletes=["a"]),
    Row("websocket cost budget of 10 per user", [*WS_KEPT_DESIRED[:2], WS_NEW],
        ws_kept_active(["s1", "s1"], cost=5), limits=limits(sessions=WS),
        unplaced={5: "cost budget of user 100"}),
    Row("300 per connection, then waits for another connection", [*WS_KEPT_DESIRED, WS_NEW],
        ws_kept_active(["s1", "s1", "s1"]), limits=limits(sessions=WS, per_connection=3),
        unplaced={5: "waiting for another"}, waiting={5}),
    Row("3 connections per user full", [*WS_KEPT_DESIRED, WS_NEW],
        ws_kept_active(["s0", "s1", "s2"]),
        limits=limits(sessions={"s0": "100", "s1": "100", "s2": "100"}, per_connection=1),
        unplaced={5: "3 connections"}),
    Row("scoped conduit sub of an invalid token", [want(1, type="channel.cheer")], [],
        limits=limits(invalid_users={"100": "refresh refused"}),
        unplaced={1: "token of user 100 is invalid"}),
    Row("token invalid", [want(1, transport="websocket")], [],
        limits=limits(sessions=WS, invalid_users={"100": "refresh failed"}),
        unplaced={1: "refresh failed"}),
    Row("revoked is not retried, its live sub kept",
        [want(1, state="revoked"), want(2, "200", state="revoked")], [have("a")],
        unplaced={2: "revoked"}),
    Row("permanent failure not retried", [want(1, state="failed")], [],
        unplaced={1: "failed permanently"}),
    Row("retry not due waits", [want(1, state="retrying", next_attempt_at=NOW + 5)], [],
        unplaced={1: "not due"}, waiting={1}),
    Row("retry due is created", [want(1, state="retrying", next_attempt_at=NOW - 1)], [],
        creates=[1]),
    Row("unknown topic", [want(1, type="no.such.thing")], [], unplaced={1: "unknown"}),
    Row("transport changed: recreated on the new one", [want(1, transport="conduit")],
        [have("a", method="websocket", session_id="s1")], limits=limits(sessions=WS),
        creates=[1], deletes=["a"]),
]
# fmt: on


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_plan(row: Row) -> None:
    result = plan(row.desired, row.active, row.limits)
    assert sorted(c.desired.id for c in result.create) == sorted(set(row.creates))
    assert sorted(d.active.id for d in result.delete) == sorted(row.deletes)
    unplaced = {u.desired.id: u for u in result.unplaced}
    assert set(unplaced) == set(row.unplaced)
    for desired_id, fragment in row.unplaced.items():
        assert fragment in unplaced[desired_id].reason
        assert unplaced[desired_id].waiting is (desired_id in row.waiting)


def test_conduit_create_carries_the_conduit_and_app_token() -> None:
    (create,) = plan([want(1)], [], limits()).create
    assert create.transport == {"method": "conduit", "conduit_id": CONDUIT}
    assert create.user_id is None
    assert create.cost == 1


def test_websocket_creates_spread_over_the_users_sessions() -> None:
    desired = [*WS_KEPT_DESIRED, want(4, transport="websocket", type="stream.offline")]
    result = plan(desired, [], limits(sessions={"s1": "100", "s2": "100"}))
    sessions = sorted(c.transport["session_id"] for c in result.create)
    assert sessions == ["s1", "s1", "s2", "s2"]
    assert {c.user_id for c in result.create} == {"100"}


def test_session_channels_are_those_kept_and_created_on_each_welcomed_session() -> None:
    sessions = {"s1": "100", "s2": "100"}
    active = [
        have("k1", channel="100", method="websocket", session_id="s1"),
        have("k2", channel="300", method="websocket", session_id="gone"),  # a lost session's
        have("c1", channel="400"),  # on the conduit
    ]
    desired = [
        want(1, channel="100", transport="websocket"),
        want(2, channel="100", transport="websocket", type="stream.offline"),
    ]
    the_plan = plan(desired, active, limits(sessions=sessions))
    (create,) = the_plan.create
    assert create.transport["session_id"] == "s2"  # the emptier session
    assert session_channels(the_plan, active, limits(sessions=sessions)) == {
        "s1": {"100"},  # kept
        "s2": {"100"},  # created; neither the lost session's channel nor the conduit's
    }
    assert session_channels(plan([], [], limits(sessions=sessions)), [], limits()) == {}


def test_full_sessions_ask_for_one_more_session_of_that_user() -> None:
    full = plan(
        [*WS_KEPT_DESIRED, WS_NEW],
        ws_kept_active(["s1", "s1", "s1"]),
        limits(sessions=WS, per_connection=3),
    )
    assert full.sessions_wanted == (("100", 2),)
    at_the_cap = plan(
        [*WS_KEPT_DESIRED, WS_NEW],
        ws_kept_active(["s0", "s1", "s2"]),
        limits(sessions={"s0": "100", "s1": "100", "s2": "100"}, per_connection=1),
    )
    assert at_the_cap.sessions_wanted == ()
    room = plan([WS_NEW], [], limits(sessions=WS))
    assert room.sessions_wanted == ()


def test_in_sync_plan_of_ten_thousand_keeps_everything() -> None:
    desired = [want(i, str(i)) for i in range(10_000)]
    active = [have(f"a{i}", str(i)) for i in range(10_000)]
    result = plan(desired, active, limits())
    assert result.in_sync
    assert len(result.keep) == 10_000


def test_a_user_topic_counts_for_its_channel_on_a_session() -> None:
    """user.update's events go to the user's channel stream, so a lost session's gap marker
    must reach that channel too (the listener and the plan read the same catalog field)."""
    sessions = {"s1": "7"}
    active = [
        have("u1", type="user.update", method="websocket", session_id="s1", user_id="7"),
    ]
    the_plan = plan([], active, limits(sessions=sessions))
    assert session_channels(the_plan, active, limits(sessions=sessions)) == {"s1": {"7"}}
