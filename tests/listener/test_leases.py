from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from kiss.keys import Keys
from kiss.listener.leases import (
    LeasePlan,
    LeaseStore,
    Mode,
    lease_holder,
    new_instance,
    plan_leases,
)


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
    assert await one.claim("0") == "claimed"
    assert await one.claim("0") == "held"
    assert await two.claim("0") == "taken"
    owners = await one.owners(["0", "1"])
    assert owners == {"0": one.value, "1": None}
    assert lease_holder(owners["0"]) == "L1"
    assert await two.renew(["0"]) == {"0": "lost"}
    assert await one.renew(["0"]) == {"0": "kept"}
    assert await two.release(["0"]) == 0
    assert await one.release(["0"]) == 1
    assert await two.claim("0") == "claimed"


async def test_an_expired_lease_is_taken_over_and_its_old_owner_has_lost_it(
    aredis: aioredis.Redis, keys: Keys
) -> None:
    one = LeaseStore(aredis, keys, "C1", "L1", lease_seconds=0.05)
    two = LeaseStore(aredis, keys, "C1", "L2", lease_seconds=5)
    assert await one.claim("0") == "claimed"
    deadline = time.monotonic() + 5
    while await two.claim("0") != "claimed":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    assert await one.renew(["0"]) == {"0": "lost"}


async def test_a_lapsed_lease_nobody_took_is_set_again_by_its_renewal(
    aredis: aioredis.Redis, keys: Keys
) -> None:
    """Redis was unreachable past the lease: the owner's session goes on if nobody took it."""
    one = LeaseStore(aredis, keys, "C1", "L1", lease_seconds=5)
    assert await one.claim("0") == "claimed"
    await aredis.delete(keys.shard_lease("C1", "0"))  # as if it expired
    assert await one.renew(["0"]) == {"0": "reclaimed"}
    assert await one.owners(["0"]) == {"0": one.value}
    assert 0 < await aredis.pttl(keys.shard_lease("C1", "0")) <= 5000


async def test_a_restarted_process_takes_its_previous_instances_leases_at_once(
    aredis: aioredis.Redis, keys: Keys
) -> None:
    now = time.time()
    before = LeaseStore(aredis, keys, "C1", "L1", 30, instance=new_instance(now - 2))
    after = LeaseStore(aredis, keys, "C1", "L1", 30, instance=new_instance(now))
    other = LeaseStore(aredis, keys, "C1", "L2", 30, instance=new_instance(now - 5))
    assert await before.claim("0") == "claimed"
    assert await other.claim("1") == "claimed"
    values = await after.owners(["0", "1"])
    assert after.claimable(values["0"]) and not after.claimable(values["1"])
    assert await after.claim("0") == "restarted"
    assert await after.claim("1") == "taken"  # another listener's live lease is not ours
    # Fencing: the previous instance, were it alive, has lost the shard and cannot take it
    # back (an older instance never takes a newer one's lease).
    assert await before.renew(["0"]) == {"0": "lost"}
    assert not before.claimable((await before.owners(["0"]))["0"])
    assert await before.claim("0") == "newer"
    assert await after.renew(["0"]) == {"0": "kept"}
    # An offer left by the previous process (killed during a drain) is not a planned handover.
    assert await after.offer(["0"]) == 1
    again = LeaseStore(aredis, keys, "C1", "L1", 30, instance=new_instance(now + 2))
    assert await again.claim("0") == "restarted"


async def test_an_offered_lease_stays_its_owners_until_a_successor_takes_it(
    aredis: aioredis.Redis, keys: Keys
) -> None:
    old = LeaseStore(aredis, keys, "C1", "OLD", lease_seconds=5)
    new = LeaseStore(aredis, keys, "C1", "NEW", lease_seconds=5)
    assert await old.claim("0") == "claimed"
    assert await new.offer(["0"]) == 0  # only the owner offers
    assert await old.offer(["0"]) == 1
    value = (await old.owners(["0"]))["0"]
    assert lease_holder(value) == "OLD"
    assert not old.claimable(value) and new.claimable(value)
    assert await old.renew(["0"]) == {"0": "kept"}
    assert await new.claim("0") == "handed_over"
    assert await old.renew(["0"]) == {"0": "lost"}
    assert await old.release(["0"]) == 0


async def test_an_offer_its_owner_stopped_renewing_is_claimed_as_a_loss(
    aredis: aioredis.Redis, keys: Keys
) -> None:
    """The owner died after offering: the successor's claim is not a planned handover."""
    old = LeaseStore(aredis, keys, "C1", "OLD", lease_seconds=5)
    new = LeaseStore(aredis, keys, "C1", "NEW", lease_seconds=5)
    assert await old.claim("0") == "claimed"
    assert await old.offer(["0"]) == 1
    await aredis.pexpire(keys.shard_lease("C1", "0"), 2000)  # not renewed for 3 s
    assert await new.claim("0") == "claimed"


async def test_members_count_only_live_listeners(aredis: aioredis.Redis, keys: Keys) -> None:
    one = LeaseStore(aredis, keys, "C1", "L1", lease_seconds=10)
    two = LeaseStore(aredis, keys, "C1", "L2", lease_seconds=10)
    now = time.time()
    assert await one.live_members(now) == 1
    assert await two.live_members(now) == 2
    assert await one.live_members(now + 11) == 1  # L2 did not renew in time
    await one.leave()
    assert await two.live_members(now) == 1
