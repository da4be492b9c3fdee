"""Finding or creating the conduit, against the simulator (in this event loop)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from kiss.helix import conduits as api
from kiss.keys import Keys
from kiss.listener.conduit import ensure_conduit
from kiss.simulator import Simulator, SimulatorConfig
from tests.listener.simulated import make_hub
from tests.waiting import TIME_UNIT


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorConfig(port=0, time_unit=TIME_UNIT)) as simulator:
        yield simulator


@pytest.fixture
async def aredis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


async def test_created_once_then_reused_and_grown(
    sim: Simulator, aredis: aioredis.Redis, redis_url: str, keys: Keys
) -> None:
    hub = await asyncio.to_thread(make_hub, redis_url, keys, sim.base_url)
    first = await ensure_conduit(hub.helix, aredis, keys, 2)
    assert await aredis.hgetall(keys.conduit()) == {b"id": first.id.encode(), b"shard_count": b"2"}
    again = await ensure_conduit(hub.helix, aredis, keys, 2)
    assert again == first
    grown = await ensure_conduit(hub.helix, aredis, keys, 3)
    assert grown == api.Conduit(first.id, 3)
    assert len(await asyncio.to_thread(api.get_conduits, hub.helix)) == 1


async def test_listeners_starting_together_share_one_conduit(
    sim: Simulator, aredis: aioredis.Redis, redis_url: str, keys: Keys
) -> None:
    hub = await asyncio.to_thread(make_hub, redis_url, keys, sim.base_url)
    found = await asyncio.gather(*(ensure_conduit(hub.helix, aredis, keys, 1) for _ in range(3)))
    assert len({conduit.id for conduit in found}) == 1
    assert len(await asyncio.to_thread(api.get_conduits, hub.helix)) == 1


async def test_a_conduit_gone_from_twitch_is_replaced(
    sim: Simulator, aredis: aioredis.Redis, redis_url: str, keys: Keys
) -> None:
    hub = await asyncio.to_thread(make_hub, redis_url, keys, sim.base_url)
    old = await ensure_conduit(hub.helix, aredis, keys, 1)
    await asyncio.to_thread(api.delete_conduit, hub.helix, old.id)
    new = await ensure_conduit(hub.helix, aredis, keys, 1)
    assert new.id != old.id
    assert (await aredis.hget(keys.conduit(), "id")) == new.id.encode()


async def test_a_conduit_lock_held_too_long_names_its_holder(
    sim: Simulator, aredis: aioredis.Redis, redis_url: str, keys: Keys
) -> None:
    hub = await asyncio.to_thread(make_hub, redis_url, keys, sim.base_url)
    await aredis.set(keys.conduit_lock(), "7:token:listener stuck", px=5000)
    with pytest.raises(TimeoutError, match=r"by listener stuck \(fence 7, expires in"):
        await ensure_conduit(hub.helix, aredis, keys, 1, lock_seconds=0.3)
    await aredis.delete(keys.conduit_lock())
    await ensure_conduit(hub.helix, aredis, keys, 1, holder="listener a")
    assert await aredis.get(keys.conduit_fence()) == b"1"  # fenced, and released after
    assert not await aredis.exists(keys.conduit_lock())
