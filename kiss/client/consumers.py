"""Forgetting consumer names that hold nothing, so that groups do not collect dead ones.

Every process is a consumer of its bots' groups (bot@instance); a process that stops cleanly
forgets itself, and a periodic sweep forgets crashed ones once the reclaim has taken their
entries and they stayed idle long enough. Forgetting is atomic with the check that the
consumer holds nothing: ``XGROUP DELCONSUMER`` would drop its pending entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis

from kiss.client.inbox import Inbox

FORGET_IF_IDLE = """
local held = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #held == 0 then
  return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
end
return -1
"""


def stale_consumers(infos: Iterable[Mapping[str, Any]], me: str, idle_ms: int) -> list[str]:
    """Names from ``XINFO CONSUMERS`` that hold nothing and were idle at least ``idle_ms``."""
    return [
        str(info["name"])
        for info in infos
        if info["name"] != me and not int(info["pending"]) and int(info["idle"]) >= idle_ms
    ]


async def forget(redis: aioredis.Redis, stream: str, group: str, consumer: str) -> bool:
    """Delete the consumer if it holds nothing; True when it was deleted."""
    result = await redis.eval(FORGET_IF_IDLE, 1, stream, group, consumer)
    return bool(result != -1)


async def sweep(redis: aioredis.Redis, inboxes: Sequence[Inbox], idle_ms: int) -> int:
    """Forget the stale consumers of these bots' groups; how many were forgotten."""
    async with redis.pipeline(transaction=False) as pipe:
        for inbox in inboxes:
            pipe.xinfo_consumers(inbox.stream, inbox.group)
        infos = await pipe.execute(raise_on_error=False)
    forgotten = 0
    for inbox, found in zip(inboxes, infos, strict=True):
        if isinstance(found, Exception):
            continue  # the group is gone: the reader creates it again
        for name in stale_consumers(found, inbox.consumer, idle_ms):
            forgotten += await forget(redis, inbox.stream, inbox.group, name)
    return forgotten
