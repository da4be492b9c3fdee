"""The bot client end to end: simulator -> listener -> Redis stream -> HubEventSubClient.

And subscribe end to end: bot -> workers/control.py -> desired_subscriptions -> the
reconciler (called as the ``kiss.subscribe`` task would) -> simulator -> outcome -> bot.
Everything runs over real sockets, a real Redis and SQLite, in one event loop plus threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aioredis
from celery import Celery
from cryptography.fernet import Fernet

from kiss.auth.provider import StaticTokenProvider
from kiss.client import (
    ChannelEvent,
    GapEvent,
    HubConnection,
    HubEventSubClient,
    NotificationEvent,
    RevocationEvent,
    SubscriptionRejected,
)
from kiss.errors import InvalidCondition
from kiss.helix.client import HelixClient
from kiss.helix.config import HelixConfig
from kiss.keys import Keys
from kiss.listener.control_plane import ControlPlane, celery_sender
from kiss.listener.service import Listener, ListenerOptions
from kiss.reconcile.services import Services
from kiss.simulator import Simulator, SimulatorConfig
from kiss.simulator.config import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from kiss.store.db import make_engine, session_factory, upgrade
from kiss.store.tokens import save_token
from tests.client.conftest import FAST
from tests.listener.simulated import Hub, make_hub, text
from tests.waiting import TIME_UNIT
from tests.waiting import wait_for_async as wait_for
from workers.control import ControlWorker

pytestmark = pytest.mark.e2e


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorConfig(port=0, time_unit=TIME_UNIT)) as simulator:
        yield simulator


@contextlib.asynccontextmanager
async def listening(hub: Hub) -> AsyncIterator[str]:
    """A listener on the simulator's conduit (one shard); yields the conduit id."""
    settings = hub.settings
    options = ListenerOptions.from_settings(settings, time_unit=TIME_UNIT)
    aredis = aioredis.Redis.from_url(settings.redis_url)
    helix = HelixClient(
        HelixConfig.from_settings(settings),
        redis.Redis.from_url(settings.redis_url),
        StaticTokenProvider(app=hub.helix.tokens.app_token()),
        keys=hub.keys,
    )
    listener = Listener(
        options,
        aredis,
        hub.keys,
        ControlPlane(celery_sender(settings.redis_url), settings.celery_queue),
        helix,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(listener.run(stop))
    try:
        await wait_for(lambda: listener.ready.is_set() or task.done(), what="listener ready")
        if task.done():
            task.result()
        await wait_for(lambda: asyncio.to_thread(shard_bound, hub), what="the shard bound")
        yield text(hub.redis.hget(hub.keys.conduit(), "id"))
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)
        await aredis.aclose()
        hub.redis.delete(settings.celery_queue)


def shard_bound(hub: Hub) -> bool:
    conduits = hub.control.conduits()
    return bool(conduits) and all(s["status"] == "enabled" for s in conduits[0]["shards"])


@pytest.fixture
async def hub(sim: Simulator, redis_url: str, keys: Keys) -> Hub:
    # A high Helix rate: the thousand-bot test places a thousand subscriptions first.
    return await asyncio.to_thread(
        make_hub, redis_url, keys, sim.base_url, conduit_shards=1, req_rate_per_s=5000
    )


def client_for(redis_url: str, keys: Keys, channel: str, **kwargs: Any) -> HubEventSubClient:
    return HubEventSubClient(
        channel, f"chan{channel}", redis_url, keys=keys, options=FAST, bot="kissbot", **kwargs
    )


async def test_events_reach_the_bot_acknowledged_and_a_failure_is_redelivered(
    hub: Hub, redis_url: str, keys: Keys
) -> None:
    async with listening(hub) as conduit_id:
        await hub.subscribe_conduit(conduit_id, "501", "stream.online", "1")
        client = client_for(redis_url, keys, "501")
        seen: list[NotificationEvent] = []

        @client.on("stream.online")
        async def online(event: NotificationEvent) -> None:
            seen.append(event)
            if len(seen) == 2:
                raise RuntimeError("the bot fails once")

        await client.start()
        try:
            await hub.call(hub.control.trigger, "stream.online", "501", count=3)
            await wait_for(
                lambda: len(seen) == 4,
                what="3 events, one of them twice",
                describe=lambda: (
                    f"seen {[(e.message_id, e.delivery_count) for e in seen]}, "
                    f"stream {hub.entries('501')}"
                ),
            )
            ids = [e.message_id for e in seen]
            assert len(set(ids)) == 3 and ids[1] in ids[2:]
            assert next(e for e in seen if e.redelivered).message_id == ids[1]
            assert all(e.event["broadcaster_user_id"] == "501" for e in seen)
            assert all(e.received_ts > 0 and e.twitch_ts for e in seen)
            stream = keys.channel_stream("501")
            await wait_for(
                lambda: hub.redis.xpending(stream, "bot:kissbot")["pending"] == 0, what="acked"
            )
        finally:
            await client.stop()


async def test_a_bot_restarted_after_downtime_gets_what_it_missed_in_order(
    hub: Hub, redis_url: str, keys: Keys
) -> None:
    async with listening(hub) as conduit_id:
        await hub.subscribe_conduit(conduit_id, "502", "stream.online", "1")
        first = client_for(redis_url, keys, "502")
        got: list[str] = []
        first.on("stream.online")(lambda e: got.append(e.message_id))
        await first.start()
        await hub.call(hub.control.trigger, "stream.online", "502")
        await wait_for(lambda: len(got) == 1, what="first event")
        await first.stop()
        sent = await hub.call(hub.control.trigger, "stream.online", "502", count=20)
        second = client_for(redis_url, keys, "502")
        second.on("stream.online")(lambda e: got.append(e.message_id))
        await second.start()
        try:
            await wait_for(lambda: len(got) == 21, what="the 20 missed events")
            assert got[1:] == sent["message_ids"]
            # Replay: the same events again, from the start of the stream or from a time.
            assert [e.message_id async for e in second.replay("0")] == got
            tenth = [e async for e in second.replay("0")][10]
            from_time = [e.message_id async for e in second.replay(tenth.stream_ms / 1000)]
            assert from_time[-11:] == got[10:]
        finally:
            await second.stop()


CRASHING_BOT = """
import asyncio, sys
from kiss.client import ClientOptions, HubEventSubClient
from kiss.keys import Keys

async def main() -> None:
    client = HubEventSubClient(
        "505", "crashy", sys.argv[1], keys=Keys(sys.argv[2]),
        bot="kissbot", options=ClientOptions(instance="doomed"),
    )
    client.on("stream.online")(lambda event: asyncio.Event().wait())  # never returns
    await client.start()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_events_held_by_a_killed_bot_process_are_redelivered(
    hub: Hub, redis_url: str, keys: Keys
) -> None:
    async with listening(hub) as conduit_id:
        await hub.subscribe_conduit(conduit_id, "505", "stream.online", "1")
        crashy = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CRASHING_BOT,
            redis_url,
            keys.prefix,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert crashy.stdout is not None
            assert (await asyncio.wait_for(crashy.stdout.readline(), 30)).strip() == b"ready"
            sent = await hub.call(hub.control.trigger, "stream.online", "505", count=3)
            stream = keys.channel_stream("505")
            await wait_for(
                lambda: hub.redis.xpending(stream, "bot:kissbot")["pending"] == 3,
                what="the doomed process holding 3 events",
            )
        finally:
            crashy.kill()  # SIGKILL: no goodbye, nothing acknowledged
            await crashy.wait()
        survivor = client_for(redis_url, keys, "505")
        got: list[NotificationEvent] = []
        survivor.on("stream.online")(got.append)
        await survivor.start()
        try:
            await wait_for(lambda: len(got) == 3, what="the 3 events reclaimed")
            assert sorted(e.message_id for e in got) == sorted(sent["message_ids"])
            assert {e.delivery_count for e in got} == {2}
            await wait_for(
                lambda: hub.redis.xpending(stream, "bot:kissbot")["pending"] == 0, what="acked"
            )
        finally:
            await survivor.stop()


async def test_gap_marker_and_revocation_arrive_as_their_own_types(
    hub: Hub, redis_url: str, keys: Keys
) -> None:
    async with listening(hub) as conduit_id:
        sub_id = await hub.subscribe_conduit(conduit_id, "503", "stream.online", "1")
        client = client_for(redis_url, keys, "503")
        kinds: list[ChannelEvent] = []
        client.on("*")(kinds.append)
        client.on_gap(kinds.append)
        client.on_revocation(kinds.append)
        await client.start()
        try:
            await hub.call(hub.control.trigger, "stream.online", "503")
            await wait_for(lambda: len(kinds) == 1, what="a notification")
            [session] = [
                s["id"]
                for s in (await hub.call(hub.control.sessions))
                if s["status"] == "connected"
            ]
            await hub.call(hub.control.close, session, 4006)
            await wait_for(
                lambda: any(isinstance(e, GapEvent) for e in kinds), within=20, what="gap marker"
            )
            gap = next(e for e in kinds if isinstance(e, GapEvent))
            assert "4006" in gap.reason and gap.gap_from is not None
            await wait_for(lambda: asyncio.to_thread(shard_bound, hub), what="shard rebound")
            await hub.call(hub.control.revoke, sub_id, "user_removed")
            await wait_for(
                lambda: any(isinstance(e, RevocationEvent) for e in kinds), what="revoked"
            )
            revocation = next(e for e in kinds if isinstance(e, RevocationEvent))
            assert (revocation.reason, revocation.type, revocation.subscription_id) == (
                "user_removed",
                "stream.online",
                sub_id,
            )
        finally:
            await client.stop()


async def test_a_thousand_bots_consume_at_once(hub: Hub, redis_url: str, keys: Keys) -> None:
    channels = [str(600000 + n) for n in range(1000)]
    async with listening(hub) as conduit_id:
        for channel in channels:
            await hub.subscribe_conduit(conduit_id, channel, "stream.online", "1")
        options = replace(
            FAST,
            streams_per_reader=500,
            presence_interval=1.0,
            reclaim_interval=1.0,
            # Nothing crashes here: under this load an entry may wait in a bot's inbox longer
            # than FAST's 150 ms, and a reclaim would deliver it twice (at least once, by design).
            min_idle_ms=60_000,
            instance=f"e2e-{keys.prefix}",
        )
        connection = HubConnection(redis_url, keys=keys, options=options)
        counts: Counter[str] = Counter()
        clients = [
            HubEventSubClient(c, f"chan{c}", keys=keys, connection=connection, bot="e2e")
            for c in channels
        ]
        for client in clients:
            client.on("stream.online")(lambda e: counts.update([e.channel_id]))
        await asyncio.gather(*(c.start() for c in clients))
        try:
            load = await hub.call(
                hub.control.load, rate=0, channels=channels, total=3000, type_="stream.online"
            )
            await wait_for(
                lambda: sum(counts.values()) >= 3000,
                within=90,
                what="3000 events",
                describe=lambda: delivery_state(hub, channels, counts),
            )
            assert set(counts) == set(channels) and set(counts.values()) == {3}
            status = await hub.call(hub.control.load_status, load)
            assert status["sent"] == 3000
        finally:
            await asyncio.gather(*(c.stop() for c in clients))
            await connection.close()


def delivery_state(hub: Hub, channels: list[str], counts: Counter[str]) -> str:
    in_streams = sum(int(hub.redis.xlen(hub.keys.channel_stream(c))) for c in channels)
    short = [c for c in channels if counts[c] < 3]
    return (
        f"{sum(counts.values())} handled, {in_streams} in the streams; "
        f"{len(short)} channels short, e.g. {short[:5]}"
    )


# -- subscribe through the control plane -------------------------------------------------


async def test_subscribe_through_control_and_reconciler_then_receive(
    redis_client: redis.Redis,
    sim: Simulator,
    hub: Hub,
    redis_url: str,
    keys: Keys,
    sqlite_url: str,
    tmp_path: Path,
) -> None:
    upgrade(sqlite_url)
    key_file = tmp_path / "kissbot.key"
    key_file.write_bytes(Fernet.generate_key())
    settings = hub.settings.model_copy(
        update={
            "database_url": sqlite_url,
            "secret_key_file": key_file,
            "twitch": hub.settings.twitch.model_copy(
                update={"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET}
            ),
        }
    )
    services = Services.build(settings)
    with services.sessions.begin() as session:  # the channel's token, without bits:read
        save_token(
            session,
            services.cipher,
            kind="user",
            user_id="504",
            scopes=["user:read:chat"],
            access_token="stored-but-unused",
        )
    engine = make_engine(sqlite_url)
    celery = Celery("e2e", broker=redis_url)
    control = ControlWorker(
        redis_client,
        keys,
        session_factory(engine),
        celery,
        queue=settings.celery_queue,
        transport="conduit",
        block_ms=50,
    )
    control.ensure_group()
    stop = threading.Event()
    serving = threading.Thread(target=control.run, args=(stop,), daemon=True)
    serving.start()
    try:
        async with listening(hub):
            client = client_for(redis_url, keys, "504")
            seen: list[NotificationEvent] = []
            client.on("stream.online")(seen.append)
            await client.start()
            try:
                with pytest.raises(InvalidCondition, match="unknown condition field"):
                    await client.subscribe("stream.online", condition={"user_id": "1"})
                with pytest.raises(SubscriptionRejected, match="504 has not granted bits:read"):
                    await client.subscribe("channel.cheer")
                pending = await client.subscribe("stream.online")
                # What the kiss.subscribe task does in the worker:
                await asyncio.to_thread(services.reconciler().reconcile)
                outcome = await pending.outcome(wait_seconds=10)
                assert outcome.active, outcome.reason
                await hub.call(hub.control.trigger, "stream.online", "504")
                await wait_for(lambda: len(seen) == 1, what="the event after subscribing")
                assert seen[0].subscription_id == outcome.subscription_id
                # No stored token for 506: accepted here, and Twitch (the simulator) says why
                # not, since 506 never authorized the app for bits:read.
                stranger = client_for(redis_url, keys, "506")
                refused = await stranger.subscribe("channel.cheer")
                await asyncio.to_thread(services.reconciler().reconcile)
                failed = await refused.outcome(wait_seconds=10)
                assert failed.status == "failed", failed
                # Twitch's own message (the planner no longer fails it first without asking)
                assert "missing proper authorization" in failed.reason
                await stranger.connection.close()
            finally:
                await client.stop()
    finally:
        stop.set()
        await asyncio.to_thread(serving.join, 10)
        services.close()
        engine.dispose()
        celery.close()
        hub.redis.delete(settings.celery_queue)
