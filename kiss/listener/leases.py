"""Conduit shard leases: which listener process holds which shard, so several share a conduit.

``plan_leases`` is the pure decision (fair share, claim free shards, release the surplus);
``LeaseStore`` is its Redis adapter. A lease's value names the listener id *and* the process
(``<listener id>#<instance>``, the instance starting with the process's start time in ms):

- a process restarted under the same id takes its previous instance's leases at once (that
  process is gone: one id is one process), instead of waiting for them to expire; an older
  instance never takes a newer one's;
- renewal is compare-and-set on the full value: a process whose lease now carries another
  value (another listener, or a newer instance of its own id) has lost the shard and drops it,
  so two live processes never both hold one; a lease that lapsed with nobody taking it (Redis
  was unreachable) is set again by the renewal, and the session goes on;
- a planned handover *offers* a lease (``offer <value>``): the owner keeps its session until
  the successor has taken the lease and bound its own, so nothing falls between the two (an
  offer its owner stopped renewing, or one left by this id's previous process, is a loss).
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from typing import Literal

import redis.asyncio as aioredis

from kiss.keys import Keys

OFFER = "offer "  # prefix of an offered lease's value

# KEYS[1] the lease; ARGV: value, lease ms, "<listener id>#", this instance's start (ms).
_CLAIM = """
local current = redis.call('GET', KEYS[1])
local mine, offered = ARGV[1], 'offer ' .. ARGV[1]
local function take(outcome)
  redis.call('SET', KEYS[1], mine, 'PX', ARGV[2])
  return outcome
end
if not current then return take('claimed') end
if current == mine or current == offered then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 'held'
end
local holder = current
if string.sub(current, 1, 6) == 'offer ' then holder = string.sub(current, 7) end
local own = ARGV[3]
if string.sub(holder, 1, #own) == own then
  -- this listener id's previous process (gone: one id is one process), offering or not
  local started = tonumber(string.match(string.sub(holder, #own + 1), '^(%d+)'))
  if started and started < tonumber(ARGV[4]) then return take('restarted') end
  return 'newer'
end
if holder ~= current then
  -- offered: a planned handover while its owner renews it (every lease/4); an offer not
  -- renewed for half a lease is an owner that died, and the shard was lost, not handed over
  if redis.call('PTTL', KEYS[1]) >= tonumber(ARGV[2]) / 2 then return take('handed_over') end
  return take('claimed')
end
return 'taken'
"""

# Per key: '1' still ours (extended), '2' had lapsed and nobody took it (set again), '0' lost.
_RENEW = """
local kept = {}
local mine, offered = ARGV[1], 'offer ' .. ARGV[1]
for i, key in ipairs(KEYS) do
  local current = redis.call('GET', key)
  if current == mine or current == offered then
    redis.call('PEXPIRE', key, ARGV[2])
    kept[#kept + 1] = '1'
  elseif not current then
    redis.call('SET', key, mine, 'PX', ARGV[2])
    kept[#kept + 1] = '2'
  else
    kept[#kept + 1] = '0'
  end
end
return table.concat(kept)
"""

_OFFER = """
local offered = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('SET', key, 'offer ' .. ARGV[1], 'PX', ARGV[2])
    offered = offered + 1
  end
end
return offered
"""

_RELEASE = """
local released = 0
for i, key in ipairs(KEYS) do
  local current = redis.call('GET', key)
  if current == ARGV[1] or current == 'offer ' .. ARGV[1] then
    redis.call('DEL', key)
    released = released + 1
  end
end
return released
"""

ClaimOutcome = Literal["claimed", "held", "handed_over", "restarted", "newer", "taken"]
RenewOutcome = Literal["kept", "reclaimed", "lost"]
_RENEWED: dict[str, RenewOutcome] = {"1": "kept", "2": "reclaimed", "0": "lost"}


def new_instance(now: float | None = None) -> str:
    """This process's instance token: its start time in ms (newer wins), then random."""
    started = int((time.time() if now is None else now) * 1000)
    return f"{started}.{uuid.uuid4().hex[:8]}"


def lease_value(listener_id: str, instance: str) -> str:
    return f"{listener_id}#{instance}"


def lease_holder(value: str | bytes | None) -> str | None:
    """The listener id a lease's value names (offered or not), or None for no lease."""
    if value is None:
        return None
    text = value.decode() if isinstance(value, bytes) else value
    return text.removeprefix(OFFER).rpartition("#")[0] or text


def is_offered(value: str | None) -> bool:
    return value is not None and value.startswith(OFFER)


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
    """The leases of one listener process on one conduit's shards, in Redis."""

    def __init__(
        self,
        redis_client: aioredis.Redis,
        keys: Keys,
        conduit_id: str,
        listener_id: str,
        lease_seconds: float,
        *,
        instance: str | None = None,
    ) -> None:
        self.redis = redis_client
        self.keys = keys
        self.conduit_id = conduit_id
        self.listener_id = listener_id
        self.instance = instance or new_instance()
        self.value = lease_value(listener_id, self.instance)
        self.lease_ms = max(1, int(lease_seconds * 1000))
        self._started_ms = int(self.instance.partition(".")[0])
        self._claim = redis_client.register_script(_CLAIM)
        self._renew = redis_client.register_script(_RENEW)
        self._offer = redis_client.register_script(_OFFER)
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
        """The raw lease value of each shard (None: no lease)."""
        if not shards:
            return {}
        values = await self.redis.mget([self._key(shard) for shard in shards])
        return {
            shard: (value.decode() if isinstance(value, bytes) else value)
            for shard, value in zip(shards, values, strict=True)
        }

    def claimable(self, value: str | None) -> bool:
        """A shard this process may claim: no lease, an offered one, or one its own previous
        instance left (as ``_CLAIM`` decides; this is the cheap pre-check)."""
        if value is None:
            return True
        if is_offered(value):
            return value != OFFER + self.value
        own = f"{self.listener_id}#"
        if not value.startswith(own) or value == self.value:
            return False
        started = value[len(own) :].partition(".")[0]
        return started.isdigit() and int(started) < self._started_ms

    async def claim(self, shard_id: str) -> ClaimOutcome:
        outcome = await self._claim(
            keys=[self._key(shard_id)],
            args=[self.value, self.lease_ms, f"{self.listener_id}#", self._started_ms],
        )
        text = outcome.decode() if isinstance(outcome, bytes) else str(outcome)
        return text  # type: ignore[return-value]  # one of ClaimOutcome, by _CLAIM

    async def renew(self, shards: list[str]) -> dict[str, RenewOutcome]:
        """Extend this process's leases: kept, re-claimed (it had lapsed, nobody took it) or
        lost (someone else holds it now)."""
        if not shards:
            return {}
        flags = await self._renew(
            keys=[self._key(s) for s in shards], args=[self.value, self.lease_ms]
        )
        text = flags.decode() if isinstance(flags, bytes) else str(flags)
        return {shard: _RENEWED[flag] for shard, flag in zip(shards, text, strict=True)}

    async def offer(self, shards: list[str]) -> int:
        """Offer leases to a successor (planned handover); they stay ours until taken."""
        if not shards:
            return 0
        return int(
            await self._offer(keys=[self._key(s) for s in shards], args=[self.value, self.lease_ms])
        )

    async def release(self, shards: list[str]) -> int:
        if not shards:
            return 0
        return int(await self._release(keys=[self._key(s) for s in shards], args=[self.value]))
