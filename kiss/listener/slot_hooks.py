"""The ``SlotHooks`` a ``SessionRunner`` calls when its session is welcomed or lost, one class per
kind of slot:

- a websocket-transport session (user token): listed in ``Keys.ws_sessions()``; a fresh one
  asks the reconciler to recreate the user's subscriptions at once (10 s window);
- a conduit shard (app token): a fresh session is bound to its shard (10 s window); the
  subscriptions stay on the conduit, nothing is recreated.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import orjson
import redis.asyncio as aioredis

from kiss.backoff import backoff
from kiss.errors import KissError
from kiss.eventsub.session import Gap, Welcomed
from kiss.helix.conduits import ShardUpdate
from kiss.keys import Keys
from kiss.listener.control_plane import ControlPlane
from kiss.listener.runner import SessionRunner

log = logging.getLogger(__name__)

NOTHING_SUBSCRIBED = 4003  # Twitch's close code for a session left empty past 10 s

BindShard = Callable[[str, str], Awaitable[ShardUpdate]]


class WebsocketSessionHooks:
    """The hooks of a websocket-transport session: track it in Redis, recreate on a fresh one."""

    def __init__(
        self,
        redis_client: aioredis.Redis,
        keys: Keys,
        listener_id: str,
        user_id: str,
        control: ControlPlane,
        on_empty: Callable[[SessionRunner, str], None] | None = None,
    ) -> None:
        self.redis = redis_client
        self.keys = keys
        self.listener_id = listener_id
        self.user_id = user_id
        self.control = control
        self.on_empty = on_empty

    async def welcomed(
        self, runner: SessionRunner, welcomed: Welcomed, previous: str | None
    ) -> None:
        record = orjson.dumps(
            {"user_id": self.user_id, "listener": self.listener_id, "connected_at": time.time()}
        )
        pipe = self.redis.pipeline(transaction=True)
        if previous and previous != welcomed.session_id:
            pipe.hdel(self.keys.ws_sessions(), previous)
        pipe.hset(self.keys.ws_sessions(), welcomed.session_id, record)
        await pipe.execute()
        if welcomed.gap is not None and previous:
            await self._mark_subscribed_channels(runner, welcomed.gap, previous)
        if welcomed.fresh:
            # Subscriptions die with a websocket session: the reconciler recreates them now.
            await self.control.session_welcomed(welcomed.session_id, self.user_id)

    async def _mark_subscribed_channels(self, runner: SessionRunner, gap: Gap, lost: str) -> None:
        """A gap marker for the channels subscribed on the lost session that the slot has not
        seen an event of (those it has seen are marked already): the reconciler lists them."""
        key = self.keys.ws_session_channels(lost)
        members = await self.redis.smembers(key)
        channels = {m.decode() if isinstance(m, bytes) else str(m) for m in members}
        runner.mark_gap(channels - runner.channels, gap)
        await self.redis.delete(key)

    async def lost(self, runner: SessionRunner, session_id: str | None, reason: str) -> None:
        if session_id:
            await self.redis.hdel(self.keys.ws_sessions(), session_id)
        if self.on_empty is not None and runner.last_close_code == NOTHING_SUBSCRIBED:
            self.on_empty(runner, self.user_id)


class ConduitShardHooks:
    """The hooks of a conduit shard: bind each new session to the shard."""

    def __init__(
        self,
        conduit_id: str,
        shard_id: str,
        bind: BindShard,
        *,
        attempts: int = 3,
        retry_delay: float = 0.5,
        handover_deadline: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.conduit_id = conduit_id
        self.shard_id = shard_id
        self.bind = bind
        self.attempts = attempts
        self.retry_delay = retry_delay
        # Taken over in a planned handover: the old owner keeps its session until then, so a
        # binding after it leaves a gap (from the deadline) and one before it leaves none.
        self.handover_deadline = handover_deadline
        self._clock = clock
        self.bound_session: str | None = None

    async def welcomed(
        self, runner: SessionRunner, welcomed: Welcomed, previous: str | None
    ) -> None:
        if not welcomed.fresh and not welcomed.session_changed:
            return  # a handover keeps the session id, and Twitch keeps the binding
        problem = "no attempt"
        # Within Twitch's 10 s window for a fresh session: half-jittered, capped low.
        delays = backoff(self.retry_delay, self.retry_delay * self.attempts, min_share=0.5)
        for attempt in range(1, self.attempts + 1):
            try:
                update = await self.bind(self.shard_id, welcomed.session_id)
            except KissError as error:
                problem = str(error)
            else:
                errors = [error for error in update.errors if error.id == self.shard_id]
                if not errors:
                    self.bound_session = welcomed.session_id
                    self._handover_done(runner)
                    log.info(
                        "conduit %s shard %s bound to session %s",
                        self.conduit_id,
                        self.shard_id,
                        welcomed.session_id,
                    )
                    return
                problem = f"{errors[0].code}: {errors[0].message}"
            if runner.session_id != welcomed.session_id:
                return  # that session is already gone
            log.warning(
                "binding shard %s (attempt %d/%d) failed: %s",
                self.shard_id,
                attempt,
                self.attempts,
                problem,
            )
            await asyncio.sleep(next(delays))
        runner.restart(f"shard {self.shard_id} could not be bound: {problem}")

    def _handover_done(self, runner: SessionRunner) -> None:
        deadline, self.handover_deadline = self.handover_deadline, None
        now = self._clock()
        if deadline is not None and now > deadline and runner.channels:
            runner.stats.gaps += 1
            runner.mark_gap(runner.channels, Gap(deadline, now, "handover bound late"))

    async def lost(self, runner: SessionRunner, session_id: str | None, reason: str) -> None:
        self.bound_session = None
