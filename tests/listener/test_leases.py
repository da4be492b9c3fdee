from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from kiss.keys import Keys
from kiss.listener.leases import LeasePlan, LeaseStore, Mode, plan_leases


@pytest.mark.parametrize(
    ("count", "owned", "free", "live", "mode", "plan"),
    [
        (4, set(), {"0", "1", "2", "3"}, 1, "normal", LeasePlan(("0", "1", "2", "3"), ())),
        (4, set(), {"0", "1", "2", "3"}, 2, "normal", LeasePlan(("0", "1"), ())),
        (4, {"0", "1", "2", "3"}, set(), 2, "normal", LeasePlan((), ("2", "3"))),
        (5, {"0", "1"}, {"4"}, 2, "normal", LeasePlan(("4",), ())),
        (3, {"0"}, {"1", "2"}, 3, "normal", LeasePlan((), ())),
        (2, {"0", "5"}, {"1"}, 1, "normal", LeasePlan(("1",), ("5",))),
        (4, {"0", "1"}, {"2"}, 0, "normal", LeasePlan(("2",), ())),
        # drain: hand over only once someone else is alive; the successor takes everything
        (4, {"0", "1"}, {"2", "3"}, 1, "handing_over", LeasePlan((), ())),
        (4, {"0", "1"}, {"2", "3"}, 2, "handing_over", LeasePlan((), ("0", "1"))),
        (4, set(), {"0", "1", "2", "3"}, 2, "successor", LeasePlan(("0", "1", "2", "3"), ())),
    ],
)
def test_plan_takes_a_fair_share(
    count: int, owned: set[str], free: set[str], live: int, mode: Mode, plan: LeasePlan
) -> None:
    assert plan_leases(count, owned, free, live, mode=mode) == plan


def test_shares_always_cover_every_shard() -> None:
    for count in range(1, 12):
        for live in range(1, 6):
            owned: list[set[str]] = [set() for _ in range(live)]
            free = {str(i) for i in range(count)}
            for _ in range(3):  # a few rounds, each listener in turn
                for mine in owned:
                    plan = plan_leases(count, mine, free, live)
                    mine.update(plan.claim)
                    free -= set(plan.claim)
            assert not free, (count, live)


@pytest.fixture
async def aredis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def test_a_lease_is_exclusive_renewable_and_released_by_its_owner(
    aredis: aioredis.Redis, keys: Keys
) -> None:
    one = LeaseStore(aredis, keys, "C1", "L1", lease_seconds=5)
    two = LeaseStore(aredis, keys, "C1", "L2", lease_seconds=5)
    assert await one.claim("0")
    assert not await two.claim("0")
    assert await one.owners(["0", "1"]) == {"0": "L1", "1": None}
    assert await two.renew(["0"]) == set()
    assert await one.renew(["0"]) == {"0"}
    assert await two.release(["0"]) == 0
    assert await one.release(["0"]) == 1
    assert await two.claim("0")


async def test_an_expired_lease_is_taken_over(aredis: aioredis.Redis, keys: Keys) -> None:
    one = LeaseStore(aredis, keys, "C1", "L1", lease_seconds=0.05)
    two = LeaseStore(aredis, keys, "C1", "L2", lease_seconds=5)
    assert await one.claim("0")
    deadline = time.monotonic() + 5
    while not await two.claim("0"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    assert await one.renew(["0"]) == set()


async def test_members_count_only_live_listeners(aredis: aioredis.Redis, keys: Keys) -> None:
    one = LeaseStore(aredis, keys, "C1", "L1", lease_seconds=10)
    two = LeaseStore(aredis, keys, "C1", "L2", lease_seconds=10)
    now = time.time()
    assert await one.live_members(now) == 1
    assert await two.live_members(now) == 2
    assert await one.live_members(now + 11) == 1  # L2 did not renew in time
    await one.leave()
    assert await two.live_members(now) == 1
