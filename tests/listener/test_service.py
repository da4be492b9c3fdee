"""The listener against the simulator over real sockets and a real Redis, in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import orjson
import pytest
import redis
import redis.asyncio as aioredis

from kiss.auth.provider import StaticTokenProvider
from kiss.errors import ConfigError
from kiss.helix.client import HelixClient
from kiss.helix.config import HelixConfig
from kiss.keys import Keys
from kiss.listener.control_plane import ControlPlane, celery_sender
from kiss.listener.service import Listener, ListenerOptions
from kiss.simulator import Simulator, SimulatorConfig
from tests.listener.simulated import SLOW_UNIT, Hub, eventually, make_hub, text
from tests.waiting import TIME_UNIT


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorConfig(port=0, time_unit=TIME_UNIT)) as simulator:
        yield simulator


@contextlib.asynccontextmanager
async def running(hub: Hub, **options: Any) -> AsyncIterator[Listener]:
    settings = hub.settings
    options.setdefault("time_unit", TIME_UNIT)
    opts = ListenerOptions.from_settings(settings, **options)
    aredis = aioredis.Redis.from_url(settings.redis_url)
    helix = HelixClient(
        HelixConfig.from_settings(settings),
        redis.Redis.from_url(settings.redis_url),
        StaticTokenProvider(app=hub.helix.tokens.app_token()),
        keys=hub.keys,
    )
    control = ControlPlane(celery_sender(settings.redis_url), settings.celery_queue)
    listener = Listener(opts, aredis, hub.keys, control, helix)
    stop = asyncio.Event()
    task = asyncio.create_task(listener.run(stop))
    try:
        await eventually(lambda: listener.ready.is_set() or task.done(), what="listener ready")
        if task.done():
            task.result()
        yield listener
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await aredis.aclose()


def conduit_shards(hub: Hub) -> list[dict[str, Any]]:
    data = hub.control.call("GET", "/conduits")["data"]
    return list(data[0]["shards"]) if data else []


async def bound_sessions(hub: Hub, count: int) -> list[str]:
    def check() -> list[str] | None:
        shards = conduit_shards(hub)
        ids = [s["transport"].get("session_id") for s in shards if s["status"] == "enabled"]
        return ids if len(ids) == count else None

    return list(await eventually(lambda: asyncio.to_thread(check), what=f"{count} bound shards"))


async def test_conduit_is_created_shards_bound_and_events_routed(
    sim: Simulator, redis_url: str, keys: Keys
) -> None:
    hub = await asyncio.to_thread(make_hub, redis_url, keys, sim.base_url, conduit_shards=2)
    async with running(hub) as listener:
        conduit_id = text(hub.redis.hget(keys.conduit(), "id"))
        assert hub.redis.hget(keys.conduit(), "shard_count") == b"2"
        await bound_sessions(hub, 2)
        channels = [str(600 + i) for i in range(6)]
        for channel in channels:
            await hub.subscribe_conduit(conduit_id, channel)
        for channel in channels:
            await hub.call(hub.control.trigger, "channel.update", channel)
        for channel in channels:
            entries = await eventually(partial(hub.entries, channel), what=f"entry on {channel}")
            fields = entries[0]
            assert fields["kind"] == "notification" and fields["channel_id"] == channel
            assert fields["type"] == "channel.update" and fields["version"] == "2"
            assert set(fields) >= {"message_id", "subscription_id", "twitch_ts", "received_ts"}
            assert orjson.loads(fields["event"])["broadcaster_user_id"] == channel
        assert sorted(listener.snapshot().shards) == ["0", "1"]
    state = hub.redis.hgetall(keys.listener_state(listener.options.listener_id))
    assert state[b"state"] == b"stopped"
    assert int(state[b"events_routed"]) == 6
    assert {text(c) for c in hub.redis.smembers(keys.channels())} == set(channels)


async def test_shard_is_rebound_after_its_socket_drops_with_a_gap_marker(
    sim: Simulator, redis_url: str, keys: Keys
) -> None:
    hub = await asyncio.to_thread(make_hub, redis_url, keys, sim.base_url, conduit_shards=1)
    async with running(hub) as listener:
        conduit_id = text(hub.redis.hget(keys.conduit(), "id"))
        [first] = await bound_sessions(hub, 1)
        reconnects = listener.snapshot().slots[0].reconnects
        await hub.subscribe_conduit(conduit_id, "77")
        await hub.call(hub.control.trigger, "channel.update", "77")
        await eventually(lambda: hub.entries("77"), what="first event")
        await hub.call(hub.control.call, "POST", f"/sessions/{first}/close", {"code": 4006})

        async def rebound() -> bool:
            shards = await asyncio.to_thread(conduit_shards, hub)
            session = shards[0]["transport"].get("session_id")
            return shards[0]["status"] == "enabled" and session not in (None, first)

        await eventually(rebound, what="shard bound to a fresh session")
        await hub.call(hub.control.trigger, "channel.update", "77")
        entries = await eventually(
            lambda: (
                [e for e in hub.entries("77") if e["kind"] == "notification"][1:]
                and hub.entries("77")
            ),
            what="event after the rebind",
        )
        kinds = [entry["kind"] for entry in entries]
        assert kinds == ["notification", "gap", "notification"]
        gap = orjson.loads(entries[1]["event"])
        assert gap["from"] <= gap["to"] and "4006" in gap["reason"]
        # Nothing was recreated: the conduit still has exactly one subscription.
        subs = await hub.call(hub.control.call, "GET", "/subscriptions")
        assert len(subs["data"]) == 1 and subs["data"][0]["status"] == "enabled"
        assert listener.snapshot().slots[0].reconnects >= reconnects + 1


async def test_a_lapsed_lease_is_reclaimed_and_a_taken_one_drops_the_shard(
    sim: Simulator, redis_url: str, keys: Keys
) -> None:
    """Fencing: the renewal sets a lease that lapsed with nobody taking it (the session goes
    on), and drops the shard whose lease another process holds now."""
    hub = await asyncio.to_thread(make_hub, redis_url, keys, sim.base_url, conduit_shards=1)
    async with running(hub) as listener:
        conduit_id = text(hub.redis.hget(keys.conduit(), "id"))
        [session] = await bound_sessions(hub, 1)
        lease = keys.shard_lease(conduit_id, "0")
        mine = text(hub.redis.get(lease))
        hub.redis.delete(lease)  # as if it expired while Redis was unreachable
        await eventually(lambda: text(hub.redis.get(lease)) == mine, what="the lease set again")
        assert dict(listener.snapshot().lease_counts)["reclaimed"] == 1
        assert await bound_sessions(hub, 1) == [session]
        assert listener.snapshot().slots[0].session_id == session

        hub.redis.set(lease, "intruder#1.x", px=60_000)  # another live process holds it
        await eventually(lambda: not listener.snapshot().slots, what="the shard dropped")
        assert listener.snapshot().shards == ()
        assert dict(listener.snapshot().lease_counts)["lost"] == 1
        assert text(hub.redis.get(lease)) == "intruder#1.x"  # never taken back from a live one


async def test_session_reconnect_in_a_flood_loses_and_duplicates_nothing(
    sim: Simulator, redis_url: str, keys: Keys
) -> None:
    hub = await asyncio.to_thread(make_hub, redis_url, keys, sim.base_url, conduit_shards=1)
    async with running(hub) as listener:
        conduit_id = text(hub.redis.hget(keys.conduit(), "id"))
        [session] = await bound_sessions(hub, 1)
        channels = [str(500 + i) for i in range(5)]
        for channel in channels:
            await hub.subscribe_conduit(conduit_id, channel)
        load = await hub.call(
            hub.control.load, rate=2000, channels=channels, total=4000, type_="channel.update"
        )
        await eventually(
            lambda: sum(len(hub.entries(c)) for c in channels) > 500, what="flood started"
        )
        await hub.call(hub.control.call, "POST", f"/sessions/{session}/reconnect")
        status = await eventually(
            lambda: asyncio.to_thread(
                lambda: (s := hub.control.load_status(load)) and not s["running"] and s
            ),
            within=30,
            what="load finished",
        )
        delivered = status["delivered"]

        def written() -> int:
            return sum(len(hub.entries(c)) for c in channels)

        await eventually(lambda: written() >= delivered, what=f"{delivered} entries")
        await asyncio.sleep(0)
        ids = [e["message_id"] for c in channels for e in hub.entries(c)]
        assert len(ids) == len(set(ids)) == delivered
        assert all(e["kind"] == "notification" for c in channels for e in hub.entries(c))
        slot = listener.snapshot().slots[0]
        assert slot.handovers == 1 and slot.reconnects == 0


async def test_revocation_is_written_and_reported_to_the_control_plane(
    sim: Simulator, redis_url: str, keys: Keys
) -> None:
    hub = await asyncio.to_thread(make_hub, redis_url, keys, sim.base_url, conduit_shards=1)
    async with running(hub):
        conduit_id = text(hub.redis.hget(keys.conduit(), "id"))
        await bound_sessions(hub, 1)
        sub_id = await hub.subscribe_conduit(conduit_id, "55")
        await hub.call(
            hub.control.call, "POST", f"/subscriptions/{sub_id}/revoke", {"reason": "user_removed"}
        )
        [entry] = await eventually(lambda: hub.entries("55"), what="revocation entry")
        assert entry["kind"] == "revocation" and entry["subscription_id"] == sub_id
        assert orjson.loads(entry["event"]) == {"status": "user_removed"}
        tasks = await eventually(hub.tasks, what="kiss.revoked task")
        assert tasks == [
            (
                "kiss.revoked",
                {
                    "subscription_id": sub_id,
                    "channel_id": "55",
                    "type": "channel.update",
                    "version": "2",
                    "reason": "user_removed",
                },
            )
        ]


@pytest.fixture
async def slow_sim() -> AsyncIterator[Simulator]:
    """A slower clock: the 10 s first-subscription window becomes 2 s, time for the test to
    act as the reconciler."""
    async with Simulator(SimulatorConfig(port=0, time_unit=SLOW_UNIT)) as simulator:
        yield simulator


async def test_websocket_transport_registers_sessions_and_asks_for_subscriptions(
    slow_sim: Simulator, redis_url: str, keys: Keys
) -> None:
    sim = slow_sim
    hub = await asyncio.to_thread(make_hub, redis_url, keys, sim.base_url, transport="websocket")
    user_token = (
        await hub.call(hub.control.token, user_id="4242", scopes=["moderator:read:followers"])
    )["access_token"]
    async with running(hub, users=("4242",), time_unit=SLOW_UNIT) as listener:
        tasks = await eventually(hub.tasks, what="kiss.session_welcomed")
        name, kwargs = tasks[0]
        session_id = kwargs["session_id"]
        assert (name, kwargs) == (
            "kiss.session_welcomed",
            {"session_id": session_id, "user_id": "4242"},
        )
        record = orjson.loads(hub.redis.hget(keys.ws_sessions(), session_id) or b"{}")
        assert record["user_id"] == "4242" and record["listener"] == listener.options.listener_id

        # Acting as the reconciler: create the subscription on that session with the user token.
        user_helix = HelixClient(
            HelixConfig.from_settings(hub.settings),
            hub.redis,
            StaticTokenProvider(users={"4242": user_token}),
            keys=keys,
        )
        from kiss.auth.provider import Principal

        body = {
            "type": "channel.follow",
            "version": "2",
            "condition": {"broadcaster_user_id": "4242", "moderator_user_id": "4242"},
            "transport": {"method": "websocket", "session_id": session_id},
        }
        await hub.call(
            user_helix.request,
            "POST",
            "eventsub/subscriptions",
            principal=Principal.user("4242"),
            json=body,
        )
        await hub.call(hub.control.trigger, "channel.follow", "4242")
        await eventually(lambda: hub.entries("4242"), what="websocket event")
        # What each reconcile writes: the session also carries channel 4343, which has had no
        # event yet; its bots must hear of the gap too.
        hub.redis.sadd(keys.ws_session_channels(session_id), "4242", "4343")

        await hub.call(hub.control.call, "POST", f"/sessions/{session_id}/close", {"code": 4005})
        tasks = await eventually(
            lambda: len(hub.tasks()) >= 2 and hub.tasks(), what="second welcome"
        )
        fresh = tasks[1][1]["session_id"]
        assert fresh != session_id
        await eventually(
            lambda: hub.redis.hexists(keys.ws_sessions(), fresh), what="new session listed"
        )
        assert not hub.redis.hexists(keys.ws_sessions(), session_id)
        gap = await eventually(
            lambda: [e for e in hub.entries("4242") if e["kind"] == "gap"], what="gap marker"
        )
        assert "4005" in orjson.loads(gap[0]["event"])["reason"]
        unseen = await eventually(lambda: hub.entries("4343"), what="gap marker on 4343")
        assert [e["kind"] for e in unseen] == ["gap"]
        assert orjson.loads(unseen[0]["event"]) == orjson.loads(gap[0]["event"])
        assert not hub.redis.exists(keys.ws_session_channels(session_id))


def test_websocket_transport_needs_users(redis_url: str, keys: Keys) -> None:
    with pytest.raises(ConfigError, match="at least one user"):
        ListenerOptions(listener_id="x", transport="websocket", ws_url="ws://x/ws")
    with pytest.raises(ConfigError, match="1 to 3 websocket connections"):
        ListenerOptions(
            listener_id="x",
            transport="websocket",
            ws_url="ws://x/ws",
            users=("1",),
            sessions_per_user=4,
        )


def two_entries(hub: Hub, channel: str) -> bool:
    return len(hub.entries(channel)) >= 2


async def test_drain_hands_the_shards_over_to_a_new_listener_without_a_gap(
    sim: Simulator, redis_url: str, keys: Keys
) -> None:
    """Planned: the old listener keeps each session until the successor's is bound, so the
    channels get no gap marker (nothing fell between the two sessions)."""
    hub = await asyncio.to_thread(make_hub, redis_url, keys, sim.base_url, conduit_shards=2)
    channels = [str(9100 + i) for i in range(6)]  # spread over both shards by the conduit's hash
    async with running(hub) as old:
        await bound_sessions(hub, 2)
        assert sorted(old.snapshot().shards) == ["0", "1"]
        conduit_id = text(hub.redis.hget(keys.conduit(), "id"))
        for channel in channels:
            await hub.subscribe_conduit(conduit_id, channel)
            await hub.call(hub.control.trigger, "channel.update", channel)
        for channel in channels:
            await eventually(partial(hub.entries, channel), what=f"an event on {channel}")
        hub.redis.set(keys.drain(), "1")
        await eventually(lambda: old.snapshot().draining, what="the old listener sees the drain")
        async with running(hub) as new:
            await eventually(
                lambda: sorted(new.snapshot().shards) == ["0", "1"] and not old.snapshot().shards,
                what="both shards handed over",
            )

            async def bound_to_new() -> bool:
                sessions = await bound_sessions(hub, 2)
                return set(sessions) == {slot.session_id for slot in new.snapshot().slots}

            await eventually(bound_to_new, what="both shards bound to the new listener")
            for channel in channels:
                await hub.call(hub.control.trigger, "channel.update", channel)
            for channel in channels:
                await eventually(
                    partial(two_entries, hub, channel), what=f"{channel} after the handover"
                )
            assert dict(new.snapshot().lease_counts)["handed_over"] == 2
        for channel in channels:
            kinds = [entry["kind"] for entry in hub.entries(channel)]
            assert kinds == ["notification", "notification"], (channel, kinds)


async def test_a_listener_joining_gets_its_share_handed_over_without_a_gap(
    sim: Simulator, redis_url: str, keys: Keys
) -> None:
    """The first listener offers its surplus; the newcomer takes it as a planned handover."""
    hub = await asyncio.to_thread(make_hub, redis_url, keys, sim.base_url, conduit_shards=2)
    channels = [str(9200 + i) for i in range(6)]
    async with running(hub) as first:
        await bound_sessions(hub, 2)
        conduit_id = text(hub.redis.hget(keys.conduit(), "id"))
        for channel in channels:
            await hub.subscribe_conduit(conduit_id, channel)
            await hub.call(hub.control.trigger, "channel.update", channel)
        for channel in channels:
            await eventually(partial(hub.entries, channel), what=f"an event on {channel}")
        async with running(hub) as second:
            await eventually(
                lambda: len(first.snapshot().shards) == 1 and len(second.snapshot().shards) == 1,
                what="one shard each",
            )
            assert dict(second.snapshot().lease_counts)["handed_over"] == 1
            for channel in channels:
                await hub.call(hub.control.trigger, "channel.update", channel)
            for channel in channels:
                await eventually(partial(two_entries, hub, channel), what=f"{channel} again")
            for channel in channels:
                kinds = [entry["kind"] for entry in hub.entries(channel)]
                assert kinds == ["notification", "notification"], (channel, kinds)


async def test_stopping_mid_flood_writes_everything_that_was_received(
    sim: Simulator, redis_url: str, keys: Keys
) -> None:
    hub = await asyncio.to_thread(make_hub, redis_url, keys, sim.base_url, conduit_shards=1)
    channels = [str(400 + i) for i in range(4)]
    async with running(hub):
        conduit_id = text(hub.redis.hget(keys.conduit(), "id"))
        await bound_sessions(hub, 1)
        for channel in channels:
            await hub.subscribe_conduit(conduit_id, channel)
        load = await hub.call(
            hub.control.load, rate=3000, channels=channels, total=30000, type_="channel.update"
        )
        await eventually(
            lambda: sum(len(hub.entries(c)) for c in channels) > 1000, what="flood under way"
        )
    # The listener has stopped: every frame the simulator managed to send is in Redis.
    status = await hub.call(hub.control.load_status, load)
    await hub.call(hub.control.stop_load, load)
    written = sum(len(hub.entries(c)) for c in channels)
    assert 1000 < written < 30000
    assert written == status["delivered"]


async def test_the_same_event_under_two_message_ids_is_written_once(
    sim: Simulator, redis_url: str, keys: Keys
) -> None:
    hub = await asyncio.to_thread(make_hub, redis_url, keys, sim.base_url, conduit_shards=1)
    async with running(hub) as listener:
        conduit_id = text(hub.redis.hget(keys.conduit(), "id"))
        await bound_sessions(hub, 1)
        await hub.subscribe_conduit(conduit_id, "31", "stream.online", "1")
        event = {
            "id": "stream-9001",
            "broadcaster_user_id": "31",
            "broadcaster_user_login": "c31",
            "broadcaster_user_name": "C31",
            "type": "live",
            "started_at": "2026-11-26T00:00:00Z",
        }
        first = await hub.call(hub.control.trigger, "stream.online", "31", event=event)
        second = await hub.call(hub.control.trigger, "stream.online", "31", event=event)
        assert first["message_ids"] != second["message_ids"]  # a resend Twitch-side
        await eventually(lambda: listener.writer.stats.duplicates == 1, what="the duplicate")
        assert [e["message_id"] for e in hub.entries("31")] == first["message_ids"]
        assert hub.redis.hget(keys.counters(), "duplicates_dropped") == b"1"


async def test_a_user_whose_sessions_are_full_gets_another_and_an_empty_one_is_retired(
    sim: Simulator, redis_url: str, keys: Keys
) -> None:
    hub = await asyncio.to_thread(make_hub, redis_url, keys, sim.base_url, transport="websocket")

    def ask(sessions: int) -> None:
        record = orjson.dumps({"sessions": sessions, "at": time.time()})
        hub.redis.hset(keys.ws_sessions_wanted(), "4242", record)

    async with running(hub, users=("4242",)) as listener:
        assert set(listener.runners) == {"ws:4242:0"}
        ask(2)  # as the reconciler does when the user's sessions hold 300 each
        await eventually(lambda: "ws:4242:1" in listener.runners, what="a second session")
        # Nothing is subscribed on it: Twitch closes it with 4003 and it is retired, not
        # reopened for the request that is now outdated.
        await eventually(lambda: "ws:4242:1" not in listener.runners, what="the empty one retired")
        await asyncio.sleep(5 * listener.options.wanted_sessions_poll_seconds)
        assert "ws:4242:1" not in listener.runners
        ask(2)  # asked again since: opened again
        await eventually(lambda: "ws:4242:1" in listener.runners, what="reopened on request")
