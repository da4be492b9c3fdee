"""The conduit transport: find or create the hub's conduit, and hold a fair share of its shards.

Several listeners (one host or many) serve one conduit. Each claims shards through Redis
leases (``kiss.listener.leases``) and runs one session per shard it holds. Two timers:
renewal (every lease/4, nothing else on it: a slow claim or a closing session never delays
it) and the plan (every lease/4: count the live listeners, claim, offer the surplus). A dead
listener's shards are taken within ``lease + lease/4`` plus one connect and bind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import redis.asyncio as aioredis

from kiss.errors import PermanentHelixError
from kiss.helix import conduits as api
from kiss.keys import Keys
from kiss.listener.leases import LeaseStore, Mode, plan_leases, shard_ids
from kiss.listener.runner import SessionRunner
from kiss.locks import AsyncFencedLock

log = logging.getLogger(__name__)

# (shard id, handover deadline or None): the deadline is set when the shard was handed over
# by a live owner (planned): the new session must be bound by then or the channels get a gap.
StartShard = Callable[[str, float | None], Awaitable[SessionRunner]]


async def ensure_conduit(
    helix: api.Requester,
    redis_client: aioredis.Redis,
    keys: Keys,
    shard_count: int,
    *,
    lock_seconds: float = 30.0,
    holder: str = "a listener",
    clock: Callable[[], float] = time.monotonic,
) -> api.Conduit:
    """The hub's conduit: the one in Redis if Twitch still has it, else one of Twitch's, else a
    new one; grown to ``shard_count`` if smaller. One listener at a time decides (a lock)."""
    deadline = clock() + lock_seconds
    lock = AsyncFencedLock(
        redis_client,
        keys.conduit_lock(),
        keys.conduit_fence(),
        ttl_seconds=lock_seconds,
        holder=holder,
    )
    while True:
        value = await lock.acquire()
        if value is not None:
            try:
                return await _find_or_create(helix, redis_client, keys, shard_count)
            finally:
                # Only our own lock: if it expired meanwhile, another listener's is not ours.
                await lock.release(value)
        if clock() > deadline:
            held = await lock.holder()
            who = held.describe() if held is not None else "another listener"
            raise TimeoutError(f"the conduit lock is held for too long, by {who}")
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
    """Claims, renews, offers and releases shard leases; runs one session runner per shard."""

    def __init__(
        self,
        conduit: api.Conduit,
        leases: LeaseStore,
        start_shard: StartShard,
        *,
        lease_seconds: float,
        draining: Callable[[], Awaitable[bool]],
        clock: Callable[[], float] = time.time,
        handover_grace_seconds: float | None = None,
    ) -> None:
        self.conduit = conduit
        self.leases = leases
        self.start_shard = start_shard
        self.renew_seconds = lease_seconds / 4
        self.plan_seconds = lease_seconds / 4
        # How long an old owner keeps its session after a successor took the offered lease:
        # long enough for the successor to connect and bind (Twitch then sends to it).
        self.handover_grace_seconds = (
            max(2.0, lease_seconds) if handover_grace_seconds is None else handover_grace_seconds
        )
        self.draining = draining
        self.runners: dict[str, SessionRunner] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._offered: set[str] = set()
        self._retiring: set[asyncio.Task[None]] = set()
        self._leasing = asyncio.Lock()  # renewal and plan never interleave their lease calls
        self._clock = clock
        self._drain_role: Mode | None = None
        self._stopped = False
        self._failing: dict[str, str] = {}  # timer name -> the error logged (once per outage)
        self._gave_way = False
        self._lease_seconds = lease_seconds
        self._confirmed_until = 0.0
        self.counts = {"claimed": 0, "restarted": 0, "handed_over": 0, "reclaimed": 0, "lost": 0}

    @property
    def held(self) -> list[str]:
        """Every shard this process runs a session for (and renews)."""
        return sorted(self.runners, key=int)

    @property
    def confirmed(self) -> list[str]:
        """The shards whose leases Redis confirmed within the last lease period. The others
        (Redis unreachable) keep their sessions but are not claimed as held: another
        listener may have them by now, which the next renewal will tell."""
        return self.held if time.monotonic() < self._confirmed_until else []

    def stopped(self) -> bool:
        return self._stopped

    async def run(self) -> None:
        await asyncio.gather(
            self._every("renewal", self.renew_seconds, self.renew),
            self._every("plan", self.plan_seconds, self.plan),
        )

    async def _every(
        self, name: str, period: float, step: Callable[[], Coroutine[Any, Any, None]]
    ) -> None:
        """Run ``step`` every ``period`` from a fixed schedule; an error is logged once."""
        due = time.monotonic()
        while not self._stopped:
            try:
                await asyncio.wait_for(step(), timeout=max(1.0, period * 4))
            except (OSError, aioredis.RedisError, PermanentHelixError, TimeoutError) as error:
                text = f"{type(error).__name__}: {error}"
                if name not in self._failing:
                    log.warning("shard lease %s failed (%s); the sessions go on", name, text)
                self._failing[name] = text
            except Exception as error:  # a bug must not end the timer: the leases would lapse
                text = f"{type(error).__name__}: {error}"
                if name not in self._failing:
                    log.exception("shard lease %s failed", name)
                self._failing[name] = text
            else:
                if self._failing.pop(name, None) is not None:
                    log.info("shard lease %s works again", name)
            due = max(due + period, time.monotonic())
            await asyncio.sleep(due - time.monotonic())

    async def tick(self) -> None:
        """One renewal and one plan (at start, and in tests)."""
        await self.renew()
        await self.plan()

    async def renew(self) -> None:
        if self._stopped:
            return
        async with self._leasing:
            asked_at = time.monotonic()
            outcomes = await self.leases.renew(self.held)
            self._confirmed_until = asked_at + self._lease_seconds
        for shard, outcome in outcomes.items():
            if outcome == "reclaimed":
                self.counts["reclaimed"] += 1
                log.warning(
                    "the lease of shard %s had lapsed (Redis unreachable) and nobody took it: "
                    "re-claimed, its session goes on",
                    shard,
                )
            elif outcome == "lost" and shard in self.runners:
                self.counts["lost"] += 1
                if shard in self._offered:
                    log.info(
                        "shard %s taken by the successor; closing this session in %.1f s",
                        shard,
                        self.handover_grace_seconds,
                    )
                    self._retire(shard, self.handover_grace_seconds)
                else:
                    log.warning("lost the lease of shard %s to another listener", shard)
                    self._retire(shard, 0.0)

    async def plan(self) -> None:
        if self._stopped:
            return
        async with self._leasing:
            await self._plan()

    async def _plan(self) -> None:
        live = await self.leases.live_members(self._clock())
        values = await self.leases.owners(shard_ids(self.conduit.shard_count))
        free = {shard for shard, value in values.items() if self.leases.claimable(value)}
        owned = set(self.runners)
        mode = await self._mode(bool(owned))
        plan = plan_leases(self.conduit.shard_count, owned, free, live, mode=mode)
        stale = [shard for shard in plan.release if shard not in values]
        for shard in stale:  # beyond the conduit's shard count: nobody can take it over
            await self.leases.release([shard])
            self._retire(shard, 0.0)
        surplus = [s for s in plan.release if values.get(s) == self.leases.value]
        if surplus and await self.leases.offer(surplus):
            self._offered.update(surplus)
            log.info("offering shard(s) %s to another listener", ",".join(surplus))
        for shard in plan.claim:
            if self._stopped:
                return
            await self._claim(shard)

    async def _claim(self, shard: str) -> None:
        outcome = await self.leases.claim(shard)
        if outcome == "newer":
            if not self._gave_way:
                log.error(
                    "a newer process runs under listener id %s: this one gives way "
                    "(give each listener process its own id)",
                    self.leases.listener_id,
                )
            self._gave_way = True
            return
        if outcome not in ("claimed", "restarted", "handed_over"):
            return  # someone was faster, or it is ours already
        self.counts[outcome] += 1
        how = {
            "claimed": "claimed",
            "restarted": "took back from this listener's previous process",
            "handed_over": "took over (planned handover)",
        }[outcome]
        log.info("shard %s of conduit %s: %s", shard, self.conduit.id, how)
        deadline = self._clock() + self.handover_grace_seconds if outcome == "handed_over" else None
        runner = await self.start_shard(shard, deadline)
        if self._stopped:  # stop() began meanwhile: hand it back at once
            await self.leases.release([shard])
            return
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

    def _retire(self, shard: str, delay: float) -> None:
        """Let go of a shard now (it is no longer held) and close its session after ``delay``."""
        runner = self.runners.pop(shard, None)
        task = self._tasks.pop(shard, None)
        self._offered.discard(shard)
        if runner is None:
            return
        retiring = asyncio.create_task(
            self._close_later(runner, task, delay), name=f"retire {shard}"
        )
        self._retiring.add(retiring)
        retiring.add_done_callback(self._retiring.discard)

    async def _close_later(
        self, runner: SessionRunner, task: asyncio.Task[None] | None, delay: float
    ) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        await runner.stop()
        if task is not None:
            # asyncio.wait neither raises the task's error nor swallows our own cancellation.
            await asyncio.wait({task}, timeout=10)

    async def stop(self) -> None:
        """Close every shard's socket, then release the leases so others take over at once.
        A session in its handover grace keeps it: its successor may not be bound yet."""
        self._stopped = True
        shards = list(self.runners)
        for shard in shards:
            self._retire(shard, 0.0)
        if self._retiring:
            await asyncio.wait(list(self._retiring), timeout=15)
        with contextlib.suppress(aioredis.RedisError, OSError):
            await self.leases.release(shards)
            await self.leases.leave()
