"""Records as Twitch shows them: transports, shards, conduit resizing."""

from __future__ import annotations

from kiss.simulator.twitch.model import CLOSE_REASON, CLOSE_STATUS, Conduit, Shard, Subscription


def test_close_tables_cover_4000_to_4007() -> None:
    assert sorted(CLOSE_STATUS) == sorted(CLOSE_REASON) == list(range(4000, 4008))


def test_websocket_transport_shows_disconnected_at_only_when_listed() -> None:
    sub = Subscription(
        "i",
        "stream.online",
        "1",
        {},
        "websocket",
        "c",
        "t",
        1,
        session_id="s",
        connected_at="a",
        disconnected_at="b",
    )
    assert sub.to_json()["transport"] == {
        "method": "websocket",
        "session_id": "s",
        "connected_at": "a",
        "disconnected_at": "b",
    }
    assert sub.notification_json()["transport"] == {"method": "websocket", "session_id": "s"}
    conduit_sub = Subscription(
        "j", "stream.online", "1", {}, "conduit", "c", "t", 1, conduit_id="k"
    )
    assert conduit_sub.to_json()["transport"] == {"method": "conduit", "conduit_id": "k"}


def test_resize_drops_top_shards_and_adds_unassigned() -> None:
    conduit = Conduit("k", "c")
    conduit.resize(3)
    conduit.shards[0].status = "enabled"
    conduit.resize(1)
    assert [s.id for s in conduit.shards] == ["0"] and conduit.shards[0].enabled
    conduit.resize(2)
    assert conduit.shards[1].status == "websocket_disconnected" and conduit.to_json() == {
        "id": "k",
        "shard_count": 2,
    }


def test_webhook_shard_json() -> None:
    shard = Shard(
        "0", status="webhook_callback_verification_pending", method="webhook", callback="https://x"
    )
    assert shard.to_json()["transport"] == {"method": "webhook", "callback": "https://x"}
