from __future__ import annotations

from kiss.status.model import HubStatus, ListenerStatus, ShardStatus


def status(**changes: object) -> HubStatus:
    base: dict[str, object] = {
        "now": 100.0,
        "transport": "conduit",
        "draining": False,
        "listeners": (ListenerStatus("a", alive=True, state="up"),),
        "conduit_id": "c1",
        "shards": (ShardStatus("0", "a"), ShardStatus("1", "a")),
        "desired": 0,
        "active": 0,
        "missing": (),
        "last_reconcile_at": None,
        "last_reconcile_outcome": "",
    }
    return HubStatus(**{**base, **changes})  # type: ignore[arg-type]


def test_conduit_is_up_when_a_listener_lives_and_every_shard_is_held() -> None:
    assert status().up


def test_conduit_is_down_with_an_unheld_shard() -> None:
    assert not status(shards=(ShardStatus("0", "a"), ShardStatus("1", None))).up


def test_conduit_is_down_before_it_exists() -> None:
    assert not status(conduit_id=None, shards=()).up


def test_down_without_a_live_listener() -> None:
    assert not status(listeners=(ListenerStatus("a", alive=False, state="gone"),)).up


def test_websocket_is_up_with_a_welcomed_session() -> None:
    with_session = (ListenerStatus("a", alive=True, state="up", sessions=1),)
    without = (ListenerStatus("a", alive=True, state="connecting", sessions=0),)
    assert status(transport="websocket", listeners=with_session, shards=()).up
    assert not status(transport="websocket", listeners=without, shards=()).up


def test_json_carries_every_field_and_the_verdict() -> None:
    document = status(counters={"events_routed": 3}).as_json()
    assert document["up"] is True
    assert document["counters"] == {"events_routed": 3}
    assert document["shards"] == [
        {"shard_id": "0", "holder": "a"},
        {"shard_id": "1", "holder": "a"},
    ]
