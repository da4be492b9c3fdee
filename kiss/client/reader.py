"""The shared reader: one XREADGROUP for many channel streams of bots with the same name.

A thousand bots in one process must not hold a thousand blocked connections: a reader
serves up to ``streams_per_reader`` inboxes of one consumer group through a single
blocking ``XREADGROUP ... STREAMS s1 s2 ... > > ...`` and hands each entry to its inbox.
Redis failures are retried with backoff; a group Redis lost is created again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis

from kiss.client.backoff import backoff
from kiss.client.errors import MalformedEntry
from kiss.client.events import parse_entry
from kiss.client.inbox import Inbox
from kiss.client.options import ClientOptions
from kiss.client.redis_errors import is_group_exists, is_missing_group, is_transient
from kiss.client.rows import fields_arg, streams

log = logging.getLogger(__name__)


async def ensure_groups(redis: aioredis.Redis, streams: Sequence[str], group: str) -> None:
    """Create the group on each stream at id 0 (a new bot gets what is retained).

    "Group exists" is the normal case: that bot has a place already and keeps it.
    """
    if not streams:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for stream in streams:
            pipe.xgroup_create(stream, group, id="0", mkstream=True)
        results = await pipe.execute(raise_on_error=False)
    for result in results:
        if isinstance(result, Exception) and not is_group_exists(result):
            raise result


async def quarantine(
    redis: aioredis.Redis,
    inbox: Inbox,
    stream_id: str,
    fields: Mapping[str, str],
    reason: str,
    maxlen: int,
) -> None:
    """Move an entry to the bot's dead letters and acknowledge it, in one round trip."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.xadd(
            inbox.dead_letters,
            fields_arg(
                {**fields, "origin_id": stream_id, "origin_stream": inbox.stream, "reason": reason}
            ),
            maxlen=maxlen,
            approximate=True,
        )
        pipe.xack(inbox.stream, inbox.group, stream_id)
        await pipe.execute()


class GroupReader:
    """Reads new entries of one consumer group over many streams."""

    def __init__(
        self, redis: aioredis.Redis, group: str, consumer: str, options: ClientOptions
    ) -> None:
        self.redis = redis
        self.group = group
        self.consumer = consumer
        self.options = options
        self.inboxes: dict[str, Inbox] = {}
        self._wake = asyncio.Event()
        self._groups_lost = False

    @property
    def full(self) -> bool:
        return len(self.inboxes) >= self.options.streams_per_reader

    def add(self, inbox: Inbox) -> None:
        inbox.on_room = self._wake.set
        self.inboxes[inbox.stream] = inbox
        self._wake.set()

    def remove(self, inbox: Inbox) -> None:
        self.inboxes.pop(inbox.stream, None)

    async def run(self) -> None:
        delays: Iterator[float] | None = None
        while True:
            streams = {s: ">" for s, inbox in self.inboxes.items() if inbox.has_room()}
            if not streams:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                if self._groups_lost:
                    await ensure_groups(self.redis, list(self.inboxes), self.group)
                    self._groups_lost = False
                reply = await self.redis.xreadgroup(
                    self.group,
                    self.consumer,
                    streams,  # type: ignore[arg-type]
                    count=self.options.count,
                    block=self.options.block_ms,
                )
                await self._dispatch(reply)
                delays = None
            except Exception as error:
                if is_missing_group(error):
                    log.warning("group %s vanished from Redis; creating it again", self.group)
                    self._groups_lost = True
                    continue
                if not is_transient(error):
                    raise
                delays = delays or backoff(self.options.backoff_base, self.options.backoff_max)
                delay = next(delays)
                log.warning("Redis unavailable (%s); reading again in %.2fs", error, delay)
                self._groups_lost = True  # a restarted Redis may have lost them
                await asyncio.sleep(delay)

    async def _dispatch(self, reply: Any) -> None:
        for stream, entries in streams(reply):
            inbox = self.inboxes.get(stream)
            if inbox is None:
                continue  # detached while the read was in flight: left pending, reclaimed later
            for stream_id, fields in entries:
                try:
                    inbox.put(parse_entry(stream_id, fields))
                except MalformedEntry as error:
                    log.error("dead-lettering %s on %s: %s", stream_id, stream, error)
                    await quarantine(
                        self.redis,
                        inbox,
                        stream_id,
                        fields,
                        str(error),
                        self.options.dead_letter_maxlen,
                    )
