"""The conduit transport: find or create the hub's conduit, and hold a fair share of its shards.

Several listeners (one host or many) serve one conduit. Each claims shards through Redis
leases (``kiss.listener.leases``) and runs one session per shard it holds; when a listener
dies its leases expire and the others take its shards within ``lease + tick``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis

from kiss.errors import PermanentHelixError
from kiss.helix import conduits as api
from kiss.keys import Keys
from kiss.listener.leases import LeaseStore, Mode, plan_leases, shard_ids
from kiss.listener.runner import SessionRunner

log = logging.getLogger(__name__)

StartShard = Callable[[str], Awaitable[SessionRunner]]


async def ensure_conduit(
    helix: api.Requester,
    redis_client: aioredis.Redis,
    keys: Keys,
    shard_count: int,
    *,
    lock_seconds: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
) -> api.Conduit:
    """The hub's conduit: the one in Redis if Twitch still has it, else one of Twitch's, else a
    new one; grown to ``shard_count`` if smaller. One listener at a time decides (a lock)."""
    deadline = clock() + lock_seconds
    while True:
        token = uuid.uuid4().hex
        if await redis_client.set(keys.conduit_lock(), token, nx=True, px=int(lock_seconds * 1000)):
            try:
                return await _find_or_create(helix, redis_client, keys, shard_count)
            finally:
                if await redis_client.get(keys.conduit_lock()) in (token, token.encode()):
                    await redis_client.delete(keys.conduit_lock())
        if clock() > deadline:
            raise TimeoutError("another listener holds the conduit lock for too long")
        await asyncio.sleep(0.05)


async def _find_or_create(
    helix: api.Requester, redis_client: aioredis.Redis, keys: Keys, shard_count: int
) -> api.Conduit:
    known = await redis_client.hget(keys.conduit(), "id")
    known_id = known.decode() if isinstance(known, bytes) else known
    existing = await asyncio.to_thread(api.get_conduits, helix)
    chosen = next((c for c in existing if c.id == known_id), None)
    if chosen is None and existing:
        chosen = existing[0]
        log.info("reusing conduit %s found on Twitch", chosen.id)
    if chosen is None:
        chosen = await asyncio.to_thread(api.create_conduit, helix, shard_count)
        log.info("created conduit %s with %d shards", chosen.id, chosen.shard_count)
    elif chosen.shard_count < shard_count:
        chosen = await asyncio.to_thread(api.update_conduit, helix, chosen.id, shard_count)
        log.info("grew conduit %s to %d shards", chosen.id, chosen.shard_count)
    await redis_client.hset(
        keys.conduit(), mapping={"id": chosen.id, "shard_count": chosen.shard_count}
    )
    return chosen


def shard_binder(
    helix: api.Requester, conduit_id: str
) -> Callable[[str, str], Awaitable[api.ShardUpdate]]:
    async def bind(shard_id: str, session_id: str) -> api.ShardUpdate:
        return await asyncio.to_thread(api.bind_shards, helix, conduit_id, [(shard_id, session_id)])

    return bind


class ShardManager:
    """Claims, renews and releases shard leases; runs one session runner per shard held."""

    def __init__(
        self,
        conduit: api.Conduit,
        leases: LeaseStore,
        start_shard: StartShard,
        *,
        tick_seconds: float,
        draining: Callable[[], Awaitable[bool]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.conduit = conduit
        self.leases = leases
        self.start_shard = start_shard
        self.tick_seconds = tick_seconds
        self.draining = draining
        self.runners: dict[str, SessionRunner] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._clock = clock
        self._drain_role: Mode | None = None
        self._stopped = False

    @property
    def held(self) -> list[str]:
        return sorted(self.runners, key=int)

    async def run(self) -> None:
        while not self._stopped:
            try:
                await self.tick()
            except (OSError, aioredis.RedisError, PermanentHelixError) as error:
                log.warning("shard lease round failed: %s", error)
            await asyncio.sleep(self.tick_seconds)

    def stopped(self) -> bool:
        return self._stopped

    async def tick(self) -> None:
        if self._stopped:
            return
        owned = set(self.runners)
        kept = await self.leases.renew(sorted(owned))
        for shard in sorted(owned - kept):
            log.warning("lost the lease of shard %s; stopping its session", shard)
            await self._stop_runner(shard)
        live = await self.leases.live_members(self._clock())
        everyone = shard_ids(self.conduit.shard_count)
        owners = await self.leases.owners(everyone)
        free = {shard for shard, owner in owners.items() if owner is None}
        plan = plan_leases(
            self.conduit.shard_count, kept, free, live, mode=await self._mode(bool(kept))
        )
        for shard in plan.release:
            log.info("handing shard %s over", shard)
            await self._stop_runner(shard)
            await self.leases.release([shard])
        for shard in plan.claim:
            if self.stopped():
                return
            if await self.leases.claim(shard):
                log.info("claimed shard %s of conduit %s", shard, self.conduit.id)
                runner = await self.start_shard(shard)
                self.runners[shard] = runner
                self._tasks[shard] = asyncio.create_task(runner.run(), name=f"shard {shard}")

    async def _mode(self, holding: bool) -> Mode:
        """Normal, or during a drain: hand over what was held when it began, else succeed."""
        if not await self.draining():
            self._drain_role = None
            return "normal"
        if self._drain_role is None:
            self._drain_role = "handing_over" if holding else "successor"
            log.info("drain: this listener is the %s", self._drain_role.replace("_", " "))
        return self._drain_role

    async def stop(self) -> None:
        """Close every shard's socket, then release the leases so others take over at once."""
        self._stopped = True
        shards = list(self.runners)
        await asyncio.gather(*(self._stop_runner(shard) for shard in shards))
        with contextlib.suppress(aioredis.RedisError):
            await self.leases.release(shards)
            await self.leases.leave()

    async def _stop_runner(self, shard: str) -> None:
        runner = self.runners.pop(shard, None)
        task = self._tasks.pop(shard, None)
        if runner is not None:
            await runner.stop()
        if task is not None:
            # asyncio.wait neither raises the task's error nor swallows our own cancellation.
            await asyncio.wait({task}, timeout=10)
