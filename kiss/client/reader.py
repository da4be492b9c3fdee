"""The shared reader: one XREADGROUP for many channel streams of bots with the same name.

A thousand bots in one process must not hold a thousand blocked connections: a reader
serves up to ``streams_per_reader`` inboxes of one consumer group through a single
blocking ``XREADGROUP ... STREAMS s1 s2 ... > > ...`` and hands each entry to its inbox.
Redis failures are retried with backoff; a group Redis lost is created again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
from collections.abc import Sequence

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection, Connection
from redis.exceptions import ResponseError

from kiss.client.dead_letters import quarantine
from kiss.client.errors import MalformedEntry
from kiss.client.events import parse_entry
from kiss.client.inbox import Inbox
from kiss.client.options import ClientOptions
from kiss.client.redis_errors import is_group_exists, is_missing_group
from kiss.client.retry import RedisRetry
from kiss.client.rows import StreamReply, raw_stream_reply

log = logging.getLogger(__name__)

# Probe an idle connection after 5 s, every 2 s, give up after 3 misses: a Redis host that
# vanished without closing the socket is noticed in about 11 s.
KEEPALIVE: dict[int, int] = {
    option: value
    for name, value in (("TCP_KEEPIDLE", 5), ("TCP_KEEPINTVL", 2), ("TCP_KEEPCNT", 3))
    if (option := getattr(socket, name, None)) is not None
}


async def ensure_groups(
    redis: aioredis.Redis, streams: Sequence[str], group: str, first_id: str = "0"
) -> None:
    """Create the group on each stream where it is new, delivering what comes after
    ``first_id`` ("0": all that is retained, "$": only new entries).

    "Group exists" is the normal case: that bot has a place already and keeps it.
    """
    if not streams:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for stream in streams:
            pipe.xgroup_create(stream, group, id=first_id, mkstream=True)
        results = await pipe.execute(raise_on_error=False)
    for result in results:
        if isinstance(result, Exception) and not is_group_exists(result):
            raise result


class GroupReader:
    """Reads new entries of one consumer group over many streams.

    The read runs on a connection of its own with the command packed once per set of
    streams: re-encoding a hundred stream names for every call was most of the CPU a bot
    process spent per event (bench/fanout.py).
    """

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
        self._connection: AbstractConnection | None = None
        self._packed: list[bytes] = []
        self._packed_for: tuple[str, ...] = ()
        # Streams whose inbox is full are left out of the read until it has room again;
        # the list read is rebuilt only when that or the membership changes.
        self._full: set[str] = set()
        self._streams: list[str] | None = None

    @property
    def full(self) -> bool:
        return len(self.inboxes) >= self.options.streams_per_reader

    def add(self, inbox: Inbox) -> None:
        inbox.on_room = functools.partial(self._room, inbox.stream)
        self.inboxes[inbox.stream] = inbox
        self._streams = None
        self._wake.set()

    def remove(self, inbox: Inbox) -> None:
        self.inboxes.pop(inbox.stream, None)
        self._full.discard(inbox.stream)
        self._streams = None

    def _room(self, stream: str) -> None:
        self._full.discard(stream)
        self._streams = None
        self._wake.set()

    async def run(self) -> None:
        try:
            await self._serve()
        finally:
            if self._connection is not None:
                await self._connection.disconnect()
                self._connection = None

    def _dedicated_connection(self) -> AbstractConnection:
        """A connection outside the pool, with no socket timeout: a timeout wraps every send
        in a new task (most of the CPU per read). A dead peer is found by TCP keepalive."""
        pool = self.redis.connection_pool
        settings = {**pool.connection_kwargs, "socket_timeout": None}
        if pool.connection_class is Connection:  # TCP, not a Unix socket
            settings["socket_keepalive"] = True
            settings["socket_keepalive_options"] = KEEPALIVE
        return pool.connection_class(**settings)

    async def _read(self, streams: list[str]) -> StreamReply:
        if self._connection is None:
            self._connection = self._dedicated_connection()
        if tuple(streams) != self._packed_for:
            self._packed = self._connection.pack_command(
                "XREADGROUP", "GROUP", self.group, self.consumer,
                "COUNT", self.options.count, "BLOCK", self.options.block_ms,
                "STREAMS", *streams, *([">"] * len(streams)),
            )  # fmt: skip
            self._packed_for = tuple(streams)
        try:
            await self._connection.send_packed_command(self._packed, check_health=False)
            raw = await self._connection.read_response()
        except ResponseError:
            raise  # an answer (e.g. NOGROUP): the connection is still in step
        except BaseException:
            await self._connection.disconnect()  # never reuse a half-read reply
            raise
        return raw_stream_reply(raw)

    async def _serve(self) -> None:
        retry = RedisRetry(self.options, f"reading for {self.group}")
        while True:
            if self._streams is None:
                self._streams = [s for s in self.inboxes if s not in self._full]
            streams = self._streams
            if not streams:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                if self._groups_lost:  # re-created at "0": their entries are all unread
                    await ensure_groups(self.redis, list(self.inboxes), self.group)
                    self._groups_lost = False
                await self._dispatch(await self._read(streams))
                retry.succeeded()
            except Exception as error:
                if is_missing_group(error):
                    log.warning("group %s vanished from Redis; creating it again", self.group)
                    self._groups_lost = True
                    continue
                await retry.failed(error)
                self._groups_lost = True  # a restarted Redis may have lost them

    async def _dispatch(self, reply: StreamReply) -> None:
        for stream, entries in reply:
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
                        deliveries=1,
                        reason=str(error),
                        maxlen=self.options.dead_letter_maxlen,
                    )
            if not inbox.has_room():
                self._full.add(stream)
                self._streams = None
