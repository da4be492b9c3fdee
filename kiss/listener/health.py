"""The listener's state in Redis: a heartbeat with a TTL, its slots, counters; and the health
verdict read back by ``kiss listener health`` (exit 0 or 1).

``Snapshot`` is plain data built by the listener; ``assess`` is the pure verdict; the
``StateReporter`` writes both every interval in one pipeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import NamedTuple

import orjson
import redis
import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from kiss.keys import Keys
from kiss.listener.delivery_stats import DeliveryStats

log = logging.getLogger(__name__)

ACTIVE_PHASES = frozenset({"active", "handover"})
STOPPED_STATE_SECONDS = 600  # how long a cleanly stopped listener's state is kept


# A field of a listener's state hash: the reconnects of one of its slots (reconnects:<slot>).
RECONNECTS_OF = "reconnects:"


@dataclass(frozen=True)
class SlotSnapshot:
    slot: str
    phase: str
    session_id: str | None
    last_message_at: float | None
    connected_at: float | None
    delivered: int
    reconnects: int
    handovers: int
    gaps: int
    dropped: int
    last_reason: str = ""


@dataclass(frozen=True)
class Snapshot:
    listener_id: str
    transport: str
    started_at: float
    slots: tuple[SlotSnapshot, ...]
    pending: int
    written: int
    duplicates: int
    flushes: int = 0
    draining: bool = False
    stopping: bool = False
    shards: tuple[str, ...] = ()
    delivery: DeliveryStats | None = None
    # Shard lease events since start: claimed, restarted (taken back from this id's previous
    # process), handed_over (planned), reclaimed (lapsed while Redis was away), lost.
    lease_counts: tuple[tuple[str, int], ...] = ()
    unconfirmed: tuple[str, ...] = ()  # shards run but not renewed within a lease (Redis away)
    spool_entries: int = 0  # waiting on disk for Redis (kiss/listener/spool.py)
    spool_bytes: int = 0
    dropped: int = 0  # neither written nor kept: the spool was full


def assess(snapshot: Snapshot) -> tuple[bool, list[str]]:
    """Healthy when every slot held has a welcomed session and the writer keeps up."""
    problems = [
        f"{slot.slot} is {slot.phase}" + (f" ({slot.last_reason})" if slot.last_reason else "")
        for slot in snapshot.slots
        if slot.phase not in ACTIVE_PHASES
    ]
    if snapshot.unconfirmed:
        problems.append(
            f"leases of shard(s) {','.join(snapshot.unconfirmed)} unconfirmed (Redis unreachable)"
        )
    if snapshot.stopping:
        problems.append("stopping")
    if snapshot.transport == "websocket" and not snapshot.slots:
        problems.append("no websocket session configured")
    return not problems, problems


def state_word(snapshot: Snapshot) -> str:
    """The one word the status screen shows: up, connecting, draining or stopping."""
    if snapshot.stopping:
        return "stopping"
    if snapshot.draining:
        return "draining"
    healthy, _ = assess(snapshot)
    return "up" if healthy else "connecting"


def heartbeat_name(listener_id: str) -> str:
    return f"listener:{listener_id}"


class StateReporter:
    def __init__(
        self,
        redis_client: aioredis.Redis,
        keys: Keys,
        snapshot: Callable[[], Snapshot],
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis_client
        self.keys = keys
        self.snapshot = snapshot
        self.interval = interval
        self.ttl_ms = max(1000, int(interval * 3000))
        self._clock = clock
        self._reported_reconnects: dict[str, int] = {}
        self._final = False  # after the final report, the periodic one must not undo it

    async def run(self) -> None:
        while True:
            try:
                await self.report()
            except redis.exceptions.RedisError as error:
                log.warning("could not write the listener state: %s", error)
            await asyncio.sleep(self.interval)

    async def report(self, *, final: bool = False) -> None:
        if self._final:
            return
        self._final = final
        snap = self.snapshot()
        now = self._clock()
        healthy, problems = assess(snap)
        keys = self.keys
        state_key = keys.listener_state(snap.listener_id)
        pipe = self.redis.pipeline(transaction=False)
        if final:
            # Stopped cleanly: no longer listed (status would show it "gone" for a day); its
            # state stays a while for whoever looks right after the stop.
            pipe.srem(keys.listeners(), snap.listener_id)
        else:
            pipe.sadd(keys.listeners(), snap.listener_id)
        pipe.hset(
            state_key,
            mapping={
                "state": "stopped" if final else state_word(snap),
                "transport": snap.transport,
                "shards": ",".join(snap.shards),
                "slots": orjson.dumps([asdict(slot) for slot in snap.slots]),
                "healthy": "1" if healthy and not final else "0",
                "problems": "; ".join(problems),
                "pending": snap.pending,
                "flushes": snap.flushes,
                "started_at": snap.started_at,
                "updated_at": now,
                **{f"leases_{name}": count for name, count in snap.lease_counts},
            },
        )
        pipe.expire(state_key, STOPPED_STATE_SECONDS if final else 24 * 3600)
        if final:
            pipe.delete(keys.heartbeat(heartbeat_name(snap.listener_id)))
        else:
            pipe.set(keys.heartbeat(heartbeat_name(snap.listener_id)), now, px=self.ttl_ms)
        reconnects = 0
        for slot in snap.slots:
            slot_key = keys.listener_slot(slot.slot)
            fields: dict[FieldT, EncodableT] = {
                "listener": snap.listener_id,
                "phase": slot.phase,
                "session_id": slot.session_id or "",
                "updated_at": now,
            }
            pipe.hset(slot_key, mapping=fields)
            delta = slot.reconnects - self._reported_reconnects.get(slot.slot, 0)
            if delta:  # per slot too, for `kiss metrics` (kiss.status.gather.gather_reconnects)
                pipe.hincrby(state_key, f"{RECONNECTS_OF}{slot.slot}", delta)
            reconnects += delta
            self._reported_reconnects[slot.slot] = slot.reconnects
        if reconnects:
            pipe.hincrby(keys.counters(), "reconnects", reconnects)
            pipe.hincrby(state_key, "reconnects", reconnects)
        await pipe.execute()


class RestoredSlot(NamedTuple):
    """What a previous holder of a slot left: its progress, channels and last session."""

    last_message_at: float | None
    channels: set[str]
    session_id: str | None


async def restore_slot(redis_client: aioredis.Redis, keys: Keys, slot: str) -> RestoredSlot:
    """The last message time, the channels and the session of a slot, as its previous holder
    (this process before a restart, or another listener) left them."""
    pipe = redis_client.pipeline(transaction=False)
    pipe.hmget(keys.listener_slot(slot), ["last_message_at", "session_id"])
    pipe.smembers(keys.listener_slot_channels(slot))
    (last, session_id), channels = await pipe.execute()
    last_at = None
    if last:
        with contextlib.suppress(ValueError):
            last_at = float(last)
    if isinstance(session_id, bytes):
        session_id = session_id.decode()
    return RestoredSlot(
        last_at,
        {c.decode() if isinstance(c, bytes) else str(c) for c in channels},
        str(session_id) if session_id else None,
    )


def check_health(
    client: redis.Redis, keys: Keys, listener_id: str | None = None
) -> tuple[bool, str]:
    """(ok, why) for ``kiss listener health``: a live heartbeat and a healthy verdict."""
    if listener_id is not None:
        candidates = [listener_id]
    else:
        members = client.smembers(keys.listeners())
        candidates = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
    if not candidates:
        return False, "no listener has ever reported"
    reasons = []
    for candidate in candidates:
        if not client.exists(keys.heartbeat(heartbeat_name(candidate))):
            reasons.append(f"{candidate}: no heartbeat")
            continue
        fields = client.hmget(keys.listener_state(candidate), ["healthy", "problems"])
        healthy, problems = ((v.decode() if isinstance(v, bytes) else v) for v in fields)
        if healthy == "1":
            return True, f"{candidate}: healthy"
        reasons.append(f"{candidate}: {problems or 'unhealthy'}")
    return False, "; ".join(reasons)
