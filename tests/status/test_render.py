from __future__ import annotations

from datetime import UTC, datetime

from kiss.status.model import (
    BotStatus,
    ChannelStatus,
    HubStatus,
    ListenerStatus,
    MissingSubscription,
    ShardStatus,
    SubscriptionRow,
)
from kiss.status.render import (
    ago,
    render_metrics,
    render_status,
    render_subscriptions,
    render_table,
)

NOW = datetime(2025, 11, 5, 13, 43, 8, tzinfo=UTC).timestamp()


def healthy() -> HubStatus:
    return HubStatus(
        now=NOW,
        transport="websocket",
        draining=False,
        listeners=(ListenerStatus("host-1", alive=True, state="up", sessions=1),),
        conduit_id=None,
        shards=(),
        desired=4,
        active=4,
        missing=(),
        last_reconcile_at=NOW - 30,
        last_reconcile_outcome="ok",
        counters={"events_routed": 47, "reconciliations": 1, "reconnects": 0},
        channels=(
            ChannelStatus(
                "44456636",
                "el_serda",
                desired=2,
                active=2,
                bots=(BotStatus("example", "running", True, lag=0, pending=1, last_seen=NOW - 2),),
            ),
            ChannelStatus("135500767", "", desired=2, active=2),
        ),
    )


def test_a_healthy_hub_reads_like_the_seeds_example() -> None:
    assert render_status(healthy()) == (
        "================================================================================\n"
        "EventSub Hub - Status\n"
        "================================================================================\n"
        "\n"
        "🌐 WebSocket: 🟢 UP\n"
        "   🟢 host-1: up, 1 sessions\n"
        "\n"
        "📊 Subscriptions:\n"
        "   Desired: 4\n"
        "   Active:  4\n"
        "   ✅ Perfect sync!\n"
        "\n"
        "🔄 Last Reconciliation: 2025-11-05 13:42:38 UTC (30s ago, ok)\n"
        "\n"
        "📈 Metrics:\n"
        "   Events Routed:    47\n"
        "   Reconciliations:  1\n"
        "   Reconnects:       0\n"
        "\n"
        "📺 Channels:\n"
        "   ✅ Channel 44456636 (el_serda): 2/2 subs\n"
        "      🟢 bot example: running, lag 0, pending 1, seen 2s ago\n"
        "   ✅ Channel 135500767: 2/2 subs\n"
        "      (no bot connected)\n"
    )


def test_missing_subscriptions_say_why() -> None:
    status = HubStatus(
        **{
            **healthy().__dict__,
            "active": 3,
            "missing": (
                MissingSubscription(
                    "44456636", "channel.follow", "2", "failed", "403 missing scope"
                ),
            ),
        }
    )
    text = render_status(status)
    assert "   ⚠️  Missing: 1\n" in text
    assert "      - 44456636 channel.follow v2 [failed]: 403 missing scope\n" in text
    assert "Perfect sync" not in text


def test_a_conduit_shows_each_shard_and_who_holds_it() -> None:
    status = HubStatus(
        **{
            **healthy().__dict__,
            "transport": "conduit",
            "conduit_id": "c-1",
            "shards": (ShardStatus("0", "host-1"), ShardStatus("1", None)),
        }
    )
    text = render_status(status)
    assert "🌐 Conduit: 🔴 DOWN  (c-1, 1/2 shards up)\n" in text
    assert "   🟢 shard 0: host-1\n" in text
    assert "   🔴 shard 1: no listener holds it\n" in text


def test_a_listener_that_is_not_up_says_why() -> None:
    listener = ListenerStatus("host-1", True, "connecting", problems="shard 0 is dialing")
    status = HubStatus(**{**healthy().__dict__, "listeners": (listener,)})
    assert "   🟢 host-1: connecting, 0 sessions (shard 0 is dialing)\n" in render_status(status)


def test_drain_and_silent_processes_are_called_out() -> None:
    status = HubStatus(
        **{**healthy().__dict__, "draining": True, "processes": {"beat": False, "worker": True}}
    )
    text = render_status(status)
    assert "DRAINING" in text
    assert "💀 Silent processes (heartbeat expired): beat\n" in text


def test_never_reconciled_says_what_to_start() -> None:
    text = render_status(HubStatus(**{**healthy().__dict__, "last_reconcile_at": None}))
    assert "🔄 Last Reconciliation: never (is the Celery worker and beat running?)" in text


def test_a_running_reconciliation_names_its_holder() -> None:
    holder = "worker1@host pid 42 (fence 7, expires in 21.5 s)"
    text = render_status(HubStatus(**{**healthy().__dict__, "reconcile_holder": holder}))
    assert f"(30s ago, ok); running now: {holder}\n" in text


def test_ago_picks_the_largest_unit() -> None:
    assert [ago(s) for s in (0, 59, 60, 3599, 3600, 86_400 * 3)] == [
        "0s ago",
        "59s ago",
        "1m ago",
        "59m ago",
        "1h ago",
        "3d ago",
    ]


def test_table_columns_align() -> None:
    assert render_table(("A", "LONGER"), [("xyz", 1), ("q", 22)]) == (
        "A    LONGER\n---  ------\nxyz  1\nq    22\n"
    )


def test_subscriptions_table_and_empty_answer() -> None:
    row = SubscriptionRow("1", "stream.online", "1", "{}", "active", "", "sub-1", "example")
    text = render_subscriptions([row])
    assert text.splitlines()[0].split() == [
        "CHANNEL",
        "TYPE",
        "V",
        "STATE",
        "SUBSCRIPTION",
        "BOT",
        "REASON",
    ]
    assert text.splitlines()[2].split() == ["1", "stream.online", "1", "active", "sub-1", "example"]
    assert render_subscriptions([]) == "No desired subscriptions match.\n"


def test_metrics_lists_known_counters_first_then_the_rest() -> None:
    text = render_metrics({"zeta_things": 2, "gaps": 1, "events_routed": 9})
    assert text.splitlines() == [
        "📈 Metrics:",
        "   Events Routed:  9",
        "   Gaps:           1",
        "   Zeta Things:    2",
    ]


def test_metrics_always_show_reconnects_per_listener_and_shard() -> None:
    reconnects = {
        "host-1": {"total": 3, "conduit:C:shard:0": 2, "conduit:C:shard:1": 1},
        "host-2": {"total": 0},
        "host-3": {"total": 1, "ws:42:0": 1},
    }
    text = render_metrics({"events_routed": 9, "reconnects": 4}, reconnects)
    assert text.splitlines() == [
        "📈 Metrics:",
        "   Events Routed:  9",
        "   Reconnects:     4",
        "      listener host-1: 3 (shard 0: 2, shard 1: 1)",
        "      listener host-2: 0",
        "      listener host-3: 1 (ws:42:0: 1)",
    ]
    # None yet: shown all the same (the troubleshooting section says to watch it grow).
    assert "   Reconnects:     0" in render_metrics({"events_routed": 9}, {}).splitlines()
