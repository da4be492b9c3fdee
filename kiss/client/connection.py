"""One process's link to the hub's Redis, shared by all the bots the process runs.

It owns the connection pool and the background tasks that serve every bot at once:
the group readers (one blocking XREADGROUP per ``streams_per_reader`` streams of a bot
name), the batched acknowledger, the reclaimer and the presence heartbeat.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from kiss.backoff import backoff
from kiss.cancelling import cancel_and_wait
from kiss.client.ack import Acker
from kiss.client.consumers import forget, sweep
from kiss.client.inbox import Inbox
from kiss.client.options import ClientOptions
from kiss.client.presence import PresenceCard, group_figures, presence_fields
from kiss.client.reader import GroupReader, ensure_groups
from kiss.client.reclaim import reclaim_once
from kiss.client.redis_errors import is_missing_group, is_transient
from kiss.client.resume import resume
from kiss.client.retry import until_done
from kiss.client.rows import fields_arg
from kiss.keys import Keys

log = logging.getLogger(__name__)

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def connect_redis(url: str, options: ClientOptions) -> aioredis.Redis:
    """A pooled asyncio client; failures surface at once so that our loops own the backoff."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        decode_responses=True,
        max_connections=options.max_connections,
        # A blocked XREADGROUP is silent for block_ms: the socket must wait longer than that.
        socket_timeout=options.block_ms / 1000 + 10,
        socket_connect_timeout=5,
        retry=Retry(NoBackoff(), 0),
        client_name=f"kiss-bot:{options.instance}",  # CLIENT LIST shows who holds what
    )
    return aioredis.Redis(connection_pool=pool)


# Periodic work over every bot goes in slices this big: packing a thousand commands at once
# would stall event delivery for tens of milliseconds (seen as the p99 of bench/fanout.py).
SLICE = 50

T = TypeVar("T")


def chunks(items: list[T], size: int = SLICE) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class HubConnection:
    """Shared by the ``HubEventSubClient`` objects of one process (pass it as ``connection=``)."""

    def __init__(
        self,
        redis_url: str = DEFAULT_REDIS_URL,
        *,
        keys: Keys | None = None,
        options: ClientOptions | None = None,
    ) -> None:
        self.keys = keys or Keys()
        self.options = options or ClientOptions()
        self.redis = connect_redis(redis_url, self.options)
        self.acker = Acker(self.redis, self.options)
        self._readers: dict[str, list[GroupReader]] = {}
        self._cards: dict[str, PresenceCard] = {}
        # A refresh in flight must not write "running" over a detach's "stopped".
        self._presence_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    def _start_task(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        self._tasks.append(asyncio.create_task(self._guarded(name, body), name=name))

    async def _guarded(self, name: str, body: Callable[[], Awaitable[None]]) -> None:
        """Run a background loop; an unexpected error is logged and the loop restarted."""
        delays = backoff(self.options.backoff_base, self.options.backoff_max)
        while True:
            try:
                await body()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("bot client task %s failed; restarting it", name)
                await asyncio.sleep(next(delays))

    def _ensure_started(self) -> None:
        if not self._tasks:
            self._start_task("kiss-client-acks", self.acker.run)
            self._start_task("kiss-client-reclaim", self._reclaim_loop)
            self._start_task("kiss-client-presence", self._presence_loop)

    async def attach(self, inbox: Inbox, card: PresenceCard, first_id: str = "$") -> None:
        """Create the bot's group if new (delivering what follows ``first_id``), take back
        what this consumer and dead ones left pending, then read new entries with the
        shared readers.

        While Redis is unreachable this waits, retrying with backoff: a bot may start first.
        """

        async def join() -> None:
            await ensure_groups(self.redis, [inbox.stream], inbox.group, first_id)
            await resume(self.redis, inbox, self.options)

        await until_done(join, self.options, f"joining {inbox.stream}")
        self._ensure_started()
        readers = self._readers.setdefault(inbox.group, [])
        reader = next((r for r in readers if not r.full), None)
        if reader is None:
            reader = GroupReader(self.redis, inbox.group, inbox.consumer, self.options)
            readers.append(reader)
            self._start_task(f"kiss-client-reader-{inbox.group}-{len(readers)}", reader.run)
        reader.add(inbox)
        self._cards[card.key] = card
        try:
            await self._write_presence([card])
        except Exception as error:
            if not is_transient(error):
                raise
            log.warning("presence of %s not written yet: %s", card.key, error)

    async def detach(self, inbox: Inbox, card: PresenceCard) -> None:
        """Stop reading the bot's stream; mark it stopped; forget this consumer if it holds
        nothing (else its pending entries stay, for a reclaim)."""
        for reader in self._readers.get(inbox.group, []):
            reader.remove(inbox)
        self._cards.pop(card.key, None)
        try:
            await self.acker.flush()
            await forget(self.redis, inbox.stream, inbox.group, inbox.consumer)
            async with self._presence_lock:
                await self._write_presence([card], state="stopped")
        except Exception as error:
            if not (is_transient(error) or is_missing_group(error)):
                raise
            log.warning("could not mark %s stopped: %s", card.key, error)

    def ack(self, inbox: Inbox, stream_id: str) -> None:
        self.acker.ack(inbox.stream, inbox.group, stream_id)

    def inboxes(self) -> list[Inbox]:
        return [i for rs in self._readers.values() for r in rs for i in r.inboxes.values()]

    async def reclaim(self) -> int:
        """One reclaim pass over every attached bot; the number of entries taken back."""
        taken = 0
        for part in chunks(self.inboxes()):
            report = await reclaim_once(self.redis, part, self.options)
            taken += report.claimed + report.dead
        return taken

    async def sweep(self) -> int:
        """Forget crashed consumers of these bots' groups that hold nothing any more."""
        forgotten = 0
        for part in chunks(self.inboxes()):
            forgotten += await sweep(self.redis, part, self.options.dead_consumer_idle_ms)
        return forgotten

    async def _reclaim_loop(self) -> None:
        swept = time.monotonic()
        while True:
            await asyncio.sleep(self.options.reclaim_interval)
            try:
                await self.reclaim()
                if time.monotonic() - swept >= self.options.sweep_interval:
                    swept = time.monotonic()
                    await self.sweep()
            except Exception as error:
                if not is_transient(error):
                    raise
                log.debug("reclaim skipped, Redis unavailable: %s", error)

    async def _write_presence(self, cards: list[PresenceCard], state: str = "running") -> None:
        if not cards:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for card in cards:
                pipe.xinfo_groups(card.stream)
            infos: list[Any] = await pipe.execute(raise_on_error=False)
        now = time.time()
        ttl = max(1, round(self.options.presence_ttl))
        async with self.redis.pipeline(transaction=False) as pipe:
            for card, groups in zip(cards, infos, strict=True):
                pending, lag = (
                    (0, None)
                    if isinstance(groups, Exception)
                    else (group_figures(groups, card.group))
                )
                fields = presence_fields(card, pending, lag, now, state)
                pipe.hset(card.key, mapping=fields_arg(fields))
                pipe.expire(card.key, ttl)
            await pipe.execute()

    async def refresh_presence(self) -> None:
        """Write every attached bot's presence as running (the loop calls this)."""
        async with self._presence_lock:
            for part in chunks(list(self._cards.values())):
                await self._write_presence(part)

    async def _presence_loop(self) -> None:
        while True:
            await asyncio.sleep(self.options.presence_interval)
            try:
                await self.refresh_presence()
            except Exception as error:
                if not is_transient(error):
                    raise
                log.debug("presence not refreshed, Redis unavailable: %s", error)

    async def close(self) -> None:
        """Stop the background tasks, send the acks still buffered, close the pool."""
        await cancel_and_wait(self._tasks)
        self._tasks.clear()
        self._readers.clear()
        try:
            await self.acker.flush()
        except Exception as error:
            if not is_transient(error):
                raise
            log.warning(
                "%d acks not sent (Redis unavailable); those entries will be redelivered",
                self.acker.buffered,
            )
        await self.redis.aclose()
