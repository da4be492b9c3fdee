"""Reclaim: the plan from XPENDING rows, and a pass against a real Redis."""

from __future__ import annotations

from dataclasses import replace

import pytest
import redis
import redis.asyncio as aioredis

from kiss.client.inbox import Inbox
from kiss.client.reclaim import ReclaimPlan, plan, reclaim_once
from kiss.client.rows import entries
from kiss.keys import Keys
from tests.client.conftest import FAST, add_entries, entry
from tests.waiting import wait_for_async as wait_for


def row(stream_id: str, times: int) -> dict[str, object]:
    return {
        "message_id": stream_id,
        "consumer": "c",
        "time_since_delivered": 999,
        "times_delivered": times,
    }


@pytest.mark.parametrize(
    ("rows", "in_flight", "expected"),
    [
        ([], set(), ReclaimPlan()),
        ([row("1-0", 1)], set(), ReclaimPlan(claim={"1-0": 1})),
        ([row("1-0", 3)], set(), ReclaimPlan(dead={"1-0": 3})),
        ([row("1-0", 7)], set(), ReclaimPlan(dead={"1-0": 7})),
        ([row("1-0", 1), row("2-0", 2)], {"1-0"}, ReclaimPlan(claim={"2-0": 2})),
        ([row("1-0", 3)], {"1-0"}, ReclaimPlan()),
    ],
)
def test_plan(rows: list[dict[str, object]], in_flight: set[str], expected: ReclaimPlan) -> None:
    assert plan(rows, in_flight, max_deliveries=3) == expected


async def test_only_one_of_two_consumers_reclaims_an_entry(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    stream, group = keys.channel_stream("1"), keys.bot_group("b")
    redis_client.xgroup_create(stream, group, id="0", mkstream=True)
    add_entries(redis_client, keys, "1", 2)
    redis_client.xreadgroup(group, "crashed", {stream: ">"})
    options = replace(FAST, min_idle_ms=50)
    a = Inbox(stream, group, keys.bot_dead_letters("1", "b"), 10, consumer="consumer-a")
    b = Inbox(stream, group, keys.bot_dead_letters("1", "b"), 10, consumer="consumer-b")
    await wait_for(
        lambda: all(
            int(p["time_since_delivered"]) >= 60
            for p in redis_client.xpending_range(stream, group, "-", "+", 10)
        ),
        what="entries idle",
    )
    first = await reclaim_once(aredis, [a], options)
    second = await reclaim_once(aredis, [b], options)
    assert (first.claimed, second.claimed) == (2, 0)
    assert [e.delivery_count for e in (await a.get(), await a.get())] == [2, 2]


async def test_entries_past_the_bound_are_dead_lettered_and_acked(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    stream, group = keys.channel_stream("1"), keys.bot_group("b")
    redis_client.xgroup_create(stream, group, id="0", mkstream=True)
    stream_id = redis_client.xadd(stream, entry("1", message_id="poison"))
    redis_client.xreadgroup(group, "x", {stream: ">"})
    for _ in range(2):  # two more deliveries: three in all
        redis_client.xclaim(stream, group, "x", 0, [stream_id])
    inbox = Inbox(stream, group, keys.bot_dead_letters("1", "b"), 10, consumer="me")
    report = await reclaim_once(aredis, [inbox], replace(FAST, min_idle_ms=0))
    assert (report.claimed, report.dead) == (0, 1)
    assert len(inbox) == 0
    assert redis_client.xpending(stream, group)["pending"] == 0
    [(_, dead)] = entries(redis_client.xrange(keys.bot_dead_letters("1", "b")))
    assert dead["message_id"] == "poison"
    assert dead["origin_id"] == stream_id and dead["deliveries"] == "3"
