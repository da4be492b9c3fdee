"""Conduit shard leases: which listener holds which shard, so several processes share a conduit.

``plan_leases`` is the pure decision (fair share, claim free shards, release the surplus);
``LeaseStore`` is its Redis adapter: a lease is ``SET key owner NX PX``, renewed and released
only by its owner (compare-and-act scripts), so a stalled listener's lease simply expires and
another one takes the shard within ``lease + tick``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import redis.asyncio as aioredis

from kiss.keys import Keys

_RENEW = """
local kept = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    kept[#kept + 1] = '1'
  else
    kept[#kept + 1] = '0'
  end
end
return table.concat(kept)
"""

_RELEASE = """
local released = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    released = released + 1
  end
end
return released
"""


@dataclass(frozen=True, slots=True)
class LeasePlan:
    claim: tuple[str, ...]
    release: tuple[str, ...]


def shard_ids(shard_count: int) -> list[str]:
    return [str(index) for index in range(shard_count)]


Mode = Literal["normal", "handing_over", "successor"]


def plan_leases(
    shard_count: int, owned: set[str], free: set[str], live_listeners: int, *, mode: Mode = "normal"
) -> LeasePlan:
    """Claim free shards up to a fair share of the conduit; release what is above it.

    The share is ``ceil(shards / listeners)``, so the shares always cover every shard.
    During a drain, a listener that held shards when it began is ``handing_over``: it claims
    nothing and releases everything once another listener is alive to take it; a listener
    that held nothing is the ``successor`` and takes every free shard.
    """
    valid = set(shard_ids(shard_count))
    stale = sorted(owned - valid, key=int)
    kept = sorted(owned & valid, key=int)
    if mode == "handing_over":
        release = stale + (kept if live_listeners > 1 else [])
        return LeasePlan((), tuple(release))
    share = shard_count if mode == "successor" else math.ceil(shard_count / max(1, live_listeners))
    release = stale + kept[share:]
    room = share - min(len(kept), share)
    claim = sorted(free & valid - owned, key=int)[:room]
    return LeasePlan(tuple(claim), tuple(release))


class LeaseStore:
    """The leases of one listener on one conduit's shards, in Redis."""

    def __init__(
        self,
        redis_client: aioredis.Redis,
        keys: Keys,
        conduit_id: str,
        listener_id: str,
        lease_seconds: float,
    ) -> None:
        self.redis = redis_client
        self.keys = keys
        self.conduit_id = conduit_id
        self.listener_id = listener_id
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self._renew = redis_client.register_script(_RENEW)
        self._release = redis_client.register_script(_RELEASE)

    def _key(self, shard_id: str) -> str:
        return self.keys.shard_lease(self.conduit_id, shard_id)

    async def live_members(self, now: float) -> int:
        """Announce this listener for one lease period; count the listeners that did."""
        members = self.keys.conduit_members(self.conduit_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(members, {self.listener_id: now + self.lease_ms / 1000})
        pipe.zremrangebyscore(members, "-inf", now)
        pipe.zcard(members)
        pipe.pexpire(members, self.lease_ms * 10)
        results = await pipe.execute()
        return int(results[2])

    async def leave(self) -> None:
        await self.redis.zrem(self.keys.conduit_members(self.conduit_id), self.listener_id)

    async def owners(self, shards: list[str]) -> dict[str, str | None]:
        if not shards:
            return {}
        values = await self.redis.mget([self._key(shard) for shard in shards])
        return {
            shard: (value.decode() if isinstance(value, bytes) else value)
            for shard, value in zip(shards, values, strict=True)
        }

    async def claim(self, shard_id: str) -> bool:
        return bool(
            await self.redis.set(self._key(shard_id), self.listener_id, nx=True, px=self.lease_ms)
        )

    async def renew(self, shards: list[str]) -> set[str]:
        """Extend this listener's leases; returns the shards still held."""
        if not shards:
            return set()
        flags = await self._renew(
            keys=[self._key(s) for s in shards], args=[self.listener_id, self.lease_ms]
        )
        text = flags.decode() if isinstance(flags, bytes) else str(flags)
        return {shard for shard, flag in zip(shards, text, strict=True) if flag == "1"}

    async def release(self, shards: list[str]) -> int:
        if not shards:
            return 0
        return int(
            await self._release(keys=[self._key(s) for s in shards], args=[self.listener_id])
        )
