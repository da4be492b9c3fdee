"""The stream writer: buffers entries and writes them in batches, deduplicated, in one round trip.

A batch is one request holding one script call: for each entry the script claims its dedup
key (SET NX EX) and, only if it was new, XADDs the entry with ``MAXLEN ~`` (the length
bound; the age bound is the beat task ``kiss.trim_streams``). Claiming and adding happen
together, so a batch that fails half-way can be sent again as a whole: nothing is lost and
nothing is written twice. Batches grow with the load and latency stays low when it is light.
Up to ``pipeline_depth`` batches are in flight at once on the writer's own connection, in
order: Redis finds the next batch waiting when it finishes one instead of idling while the
listener reads a reply and packs the next (the listener and Redis then work side by side).
The hot path (``add``) never awaits.

Entries go to a bounded memory queue. While Redis answers but is behind (a flood), a full
queue asks the readers to pause (``behind``/``room``: TCP pushes back, the hot path stays
in memory); when Redis fails, or a pause lasts (``stalled``), entries go to the spool on
disk (``kiss/listener/spool.py``) instead, and the readers read on. The spool is written to
Redis in order, before anything newer, when Redis answers again. Only a full spool (or,
without one, a full memory queue) drops entries: they are counted, logged once, and each
channel affected gets a gap marker in the place of the missing events.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import cast

import hiredis
import msgspec
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.connection import AbstractConnection

from kiss.eventsub.session import Gap
from kiss.eventsub.timestamps import format_timestamp
from kiss.keys import Keys
from kiss.listener.delivery_stats import DeliveryStats
from kiss.listener.entries import FIELDS, Entry, gap_entry
from kiss.listener.spool import Spool

log = logging.getLogger(__name__)

# KEYS: counters, listener state. ARGV: maxlen, ttl, the batch's rows as one MessagePack
# array ([stream, dedup key, fields in FIELDS order but the event]), then each entry's event
# JSON, one argument each. Redis decodes the rows in C (cmsgpack: a tenth of its time per
# entry less than cjson; it has no binary type, hence the events apart) and takes each event
# as it is: escaped inside the rows, decoding them cost Redis a third of its time; cut out
# of one concatenated argument, a quarter. The XADD names its fields outright: building an
# argument table per entry cost more than the XADD.
_SCRIPT = """
local maxlen, ttl = ARGV[1], ARGV[2]
local counter_of = {notification = 'events_routed', revocation = 'revocations', gap = 'gaps'}
local counts = {}
local flags = {}
for index, row in ipairs(cmsgpack.unpack(ARGV[3])) do
  local counter
  if redis.call('SET', row[2], '1', 'NX', 'EX', ttl) then
    redis.call('XADD', row[1], 'MAXLEN', '~', maxlen, '*', __FIELDS__, 'event', ARGV[3 + index])
    flags[#flags + 1] = '1'
    counter = counter_of[row[3]] or 'entries'
  else
    flags[#flags + 1] = '0'
    counter = 'duplicates_dropped'
  end
  counts[counter] = (counts[counter] or 0) + 1
end
for name, count in pairs(counts) do
  redis.call('HINCRBY', KEYS[1], name, count)
  redis.call('HINCRBY', KEYS[2], name, count)
end
return table.concat(flags)
""".replace("__FIELDS__", ", ".join(f"'{name}', row[{i}]" for i, name in enumerate(FIELDS[:-1], 3)))

_pack = msgspec.msgpack.Encoder().encode
# RESP, packed in C. hiredis's stub types the command as a 1-tuple; any length is packed.
_pack_command = cast(Callable[[tuple[object, ...]], bytes], hiredis.pack_command)
_ROW = itemgetter(slice(0, -1))  # an entry but its event, as a plain tuple
_EVENT = itemgetter(-1)


@dataclass
class WriterConfig:
    maxlen: int = 10_000
    dedup_ttl_seconds: int = 1200  # longer than Twitch's 10-minute replay window
    batch_max: int = 150
    # The memory queue's bound, those in flight included: past it the readers pause while
    # Redis answers (it is behind), and entries go to the spool when it does not.
    memory_entries: int = 400
    pipeline_depth: int = 2  # batches in flight at once
    retry_delay_seconds: float = 0.5
    # At shutdown, how long to keep trying a Redis that cannot take the last entries: a
    # stop must end (Docker's grace period is 10 s), and say what it could not write.
    close_timeout_seconds: float = 5.0
    # The spool (None: none, a full memory queue drops) and its bound in bytes on disk.
    spool_directory: Path | None = None
    spool_max_bytes: int = 1 << 30
    # fsync of the spool at most this often: the data is in the kernel at once (a kill -9
    # loses none), this bounds what a power loss takes.
    spool_sync_seconds: float = 1.0


@dataclass(slots=True)
class _Sent:
    """A request in flight: what to settle when its replies come back."""

    batch: list[Entry]
    marks: dict[str, float]
    members: dict[str, list[str]]  # set key -> members to add
    commands: int


@dataclass
class WriterStats:
    written: int = 0
    duplicates: int = 0
    flushes: int = 0
    failures: int = 0
    last_flush_at: float | None = None
    dropped: int = 0  # entries neither written nor kept: the spool (or memory) was full
    gaps: int = 0  # gap markers written for them


class StreamWriter:
    def __init__(
        self,
        redis_client: aioredis.Redis,
        keys: Keys,
        listener_id: str,
        config: WriterConfig | None = None,
        *,
        on_written: Callable[[Entry], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = redis_client
        self.keys = keys
        self.listener_id = listener_id
        self.config = config or WriterConfig()
        self.stats = WriterStats()
        self.delivery = DeliveryStats()
        self._on_written = on_written
        self._clock = clock
        self._buffer: list[Entry] = []
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._room = asyncio.Event()
        self._room.set()
        self.spool: Spool | None = None
        self._spilling = False  # entries go to the spool, after the ones already there
        self._from_spool = False  # the buffer holds entries read from the spool
        self._lost: dict[str, list[float]] = {}  # channel -> [first, last] drop time
        self._synced_at = 0.0
        self._redis_down = False
        directory = self.config.spool_directory
        if directory is not None:
            self.spool = Spool(directory, self.config.spool_max_bytes)
            if not self.spool.empty:  # left by a previous run: written before anything new
                self._spilling = True
                self._idle.clear()
                self._wakeup.set()
        self._sha: str | None = None  # the script, loaded once (EVALSHA: no check per flush)
        self._tracked: dict[str, Callable[[], float | None]] = {}
        self._marked: dict[str, float] = {}
        self._members: dict[str, list[str]] = {}  # set key -> members to add with the next send
        # The batches sent and not yet answered, and how many entries at the head of the buffer
        # they hold: forgotten only when Redis has answered, sent again after a failure.
        self._in_flight: deque[_Sent] = deque()
        self._sent = 0
        # The writer's own connection: batches pipelined on one connection stay in order.
        self._connection: AbstractConnection | None = None
        self._using_connection = asyncio.Lock()  # ``close`` may flush while ``run`` does
        self._stopping = False

    @property
    def pending(self) -> int:
        """Entries not yet in Redis: in memory and in the spool."""
        spooled = self.spool.entries if self.spool is not None and not self._from_spool else 0
        return len(self._buffer) + spooled

    @property
    def spool_bytes(self) -> int:
        return self.spool.size if self.spool is not None else 0

    def add(self, entry: Entry) -> None:
        """Queue an entry. Duplicates are dropped by the script, in Redis, when it is written."""
        self.extend((entry,))

    def extend(self, entries: Sequence[Entry]) -> None:
        """Queue entries, in order (a network read's worth at a time on the hot path)."""
        buffer = self._buffer
        if self._spilling or self._lost or self._redis_down:
            self._overflow(entries)  # the rare path: the spool, or dropping
            return
        was_empty = not buffer
        buffer.extend(entries)
        if was_empty and buffer:
            # The flush loop runs until the buffer is empty: only the first entry wakes it.
            self._idle.clear()
            self._wakeup.set()
        if len(buffer) >= self.config.memory_entries:
            self._room.clear()  # Redis answers but is behind: the readers pause

    @property
    def behind(self) -> bool:
        """The memory queue is full while Redis answers: readers should pause (``room``)."""
        return not self._room.is_set()

    async def room(self) -> None:
        """Wait until the memory queue has room, or entries go to the spool meanwhile."""
        await self._room.wait()

    def stalled(self) -> None:
        """A pause lasted too long (Redis takes nothing, without an error): new entries go
        to the spool, so that the readers read on."""
        if self.spool is not None and not self._spilling:
            log.warning("redis has taken nothing for a while; entries go to the spool %s",
                        self.spool.directory)  # fmt: skip
            self._spilling = True
            self._room.set()

    def _overflow(self, entries: Sequence[Entry]) -> None:
        """Keep entries the memory queue has no room for (or that must follow the spool's)."""
        if not entries:
            return
        self._idle.clear()
        self._wakeup.set()
        spool = self.spool
        if spool is None:  # Redis is down, or was: memory up to its bound
            if len(self._buffer) < self.config.memory_entries:
                if self._lost:
                    self._mark_losses(self._queue)
                self._buffer.extend(entries)
                if len(self._buffer) >= self.config.memory_entries:
                    self._room.clear()
                return
        else:
            self._spilling = True
            if (not self._lost or self._mark_losses(spool.append)) and spool.append(entries):
                return
        self._drop(entries)

    def _queue(self, entries: Sequence[Entry]) -> bool:
        self._buffer.extend(entries)
        return True

    def _drop(self, entries: Sequence[Entry]) -> None:
        """No room anywhere: count, log once, remember which channels need a gap marker."""
        if not self._lost:
            where = (
                f"the spool is full ({self.spool.size} of {self.spool.max_bytes} bytes "
                f"in {self.spool.directory})"
                if self.spool is not None
                else f"the memory queue is full ({len(self._buffer)} entries) and there is no spool"
            )
            log.error("%s: dropping events until there is room; each channel will get a gap "
                      "marker", where)  # fmt: skip
        self.stats.dropped += len(entries)
        now = self._clock()
        for entry in entries:
            window = self._lost.get(entry.channel_id)
            if window is None:
                self._lost[entry.channel_id] = [now, now]
            else:
                window[1] = now

    def _mark_losses(self, put: Callable[[Sequence[Entry]], bool]) -> bool:
        """Room again after drops: the gap markers go first, where the events are missing."""
        stamp = format_timestamp(int(self._clock() * 1_000_000_000))
        markers = [
            gap_entry(self.keys, channel, Gap(first, last, "listener spool full"), stamp)
            for channel, (first, last) in sorted(self._lost.items())
        ]
        if not put(markers):
            return False
        log.warning("room again after %d events were dropped: gap markers on %d channels",
                    self.stats.dropped, len(markers))  # fmt: skip
        self.stats.gaps += len(markers)
        self._lost.clear()
        return True

    def track(self, hash_key: str, last_message_at: Callable[[], float | None]) -> None:
        """Write a slot's progress (``last_message_at`` in ``hash_key``) with each flush."""
        self._tracked[hash_key] = last_message_at

    def untrack(self, hash_key: str) -> None:
        self._tracked.pop(hash_key, None)

    def remember(self, set_key: str, member: str) -> None:
        """Add ``member`` to ``set_key`` with the next flush (e.g. a channel first seen)."""
        members = self._members.get(set_key)
        if members is None:
            self._members[set_key] = [member]
        else:
            members.append(member)

    async def run(self) -> None:
        """Flush whenever there is something to write, until ``close``."""
        while not self._stopping:
            await self._wakeup.wait()
            self._wakeup.clear()
            await self._flush_all()

    async def close(self) -> int:
        """Write what is buffered and stop ``run``; returns how many entries could not be
        written within ``close_timeout_seconds`` (Redis unreachable or refusing): 0 normally."""
        self._stopping = True
        self._wakeup.set()
        try:
            async with asyncio.timeout(self.config.close_timeout_seconds):
                await self._flush_all()
                async with self._using_connection:
                    if self._connection is not None:
                        connection, self._connection = self._connection, None
                        await self.redis.connection_pool.release(connection)
        except TimeoutError:
            self._spill_buffer()
            if self.spool is not None and not self._buffer:
                log.warning(
                    "redis did not take the last entries within %.0f s of the shutdown: %d "
                    "entries are kept in the spool %s, written when the listener starts again",
                    self.config.close_timeout_seconds, self.spool.entries, self.spool.directory,
                )  # fmt: skip
            else:
                log.error(
                    "redis did not take the last %d entries within %.0f s of the shutdown: "
                    "they are not written",
                    len(self._buffer),
                    self.config.close_timeout_seconds,
                )
        finally:
            if self.spool is not None:
                spool, self.spool = self.spool, None  # a ``run`` still looping leaves it alone
                spool.close()
        return len(self._buffer)

    async def drained(self) -> None:
        """Wait until every queued entry is in Redis."""
        await self._idle.wait()

    async def _flush_all(self) -> None:
        while self._buffer or (self.spool is not None and self.spool.unread):
            self._sync_spool()
            try:
                if not self._buffer:
                    self._refill()
                await self.flush()
                self._written_all()
            except redis.exceptions.NoScriptError:
                self._sha = None  # Redis restarted and lost its script cache: load it again
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as error:
                self._failed(logging.WARNING, f"redis write failed ({error})")
                await asyncio.sleep(self.config.retry_delay_seconds)
            except redis.exceptions.ResponseError as error:
                # e.g. OOM at maxmemory: keep the entries (spooled) and retry.
                self._failed(logging.ERROR, f"redis refused the batch ({error})")
                await asyncio.sleep(self.config.retry_delay_seconds)
        self._sync_spool()
        self._idle.set()

    def _failed(self, level: int, what: str) -> None:
        self.stats.failures += 1
        self._spill_buffer()
        if self.spool is not None:
            self._room.set()  # what comes now goes to the spool: the readers read on
        if not self._redis_down:  # once per outage, not twice a second
            self._redis_down = True
            kept = "kept in the spool" if self.spool is not None else "kept in memory"
            log.log(level, "%s; retrying, entries are %s meanwhile", what, kept)

    def _refill(self) -> None:
        """The spool's next entries into the (empty) memory queue, in order."""
        assert self.spool is not None
        self._buffer.extend(self.spool.read(self.config.memory_entries))
        self._from_spool = True

    def _written_all(self) -> None:
        """The buffer reached Redis: what came from the spool is forgotten there."""
        if self._redis_down:
            self._redis_down = False
            # Counted before this batch is committed: the spool still holds what it read.
            kept = self.spool.entries if self.spool is not None else len(self._buffer)
            log.warning("redis answers again; writing the %d entries kept meanwhile", kept)
        spool = self.spool
        if spool is None:
            return
        if self._from_spool:
            spool.commit()
            self._from_spool = False
        if self._spilling and spool.empty:
            self._spilling = False  # caught up: back to memory only
            if self._lost:
                self._mark_losses(self._queue)

    def _spill_buffer(self) -> None:
        """Redis failed: the memory queue goes to the spool, so that a kill -9 meanwhile loses
        nothing; entries read from the spool are read again from it instead."""
        spool = self.spool
        if spool is None or not self._buffer:
            return
        if self._from_spool:
            spool.rewind()
            self._from_spool = False
        elif not spool.prepend(self._buffer):  # older than what the spool holds
            return  # full: they stay in memory
        self._spilling = True
        self._buffer.clear()
        self._sent = 0

    def _sync_spool(self) -> None:
        spool = self.spool
        if spool is not None:
            now = time.monotonic()
            if now - self._synced_at >= self.config.spool_sync_seconds:
                self._synced_at = now
                spool.sync()

    async def flush(self) -> int:
        """Write the buffer once, without retrying, keeping up to ``pipeline_depth`` batches
        in flight; returns how many entries were new."""
        depth = self.config.pipeline_depth
        fresh = 0
        async with self._using_connection:
            connection = await self._connected()
            try:
                while self._buffer:
                    while self._sent < len(self._buffer) and len(self._in_flight) < depth:
                        await self._send(connection)
                    fresh += await self._receive(connection)
            except BaseException:
                await self._abandon(connection)
                raise
        return fresh

    async def _connected(self) -> AbstractConnection:
        if self._connection is None:
            pool = self.redis.connection_pool
            self._connection = await pool.get_connection()  # type: ignore[no-untyped-call]
        if self._sha is None:
            self._sha = str(await self.redis.script_load(_SCRIPT))
        return self._connection

    async def _abandon(self, connection: AbstractConnection) -> None:
        """After a failure the replies on the connection no longer match what was sent: drop
        it (the next send reconnects) and send everything unanswered again."""
        for sent in self._in_flight:  # their set members go again with the next send
            for key, members in sent.members.items():
                self._members.setdefault(key, []).extend(members)
        self._in_flight.clear()
        self._sent = 0
        await connection.disconnect()

    async def _send(self, connection: AbstractConnection) -> None:
        """Send the next batch of the buffer, with the extras due, without waiting."""
        batch = self._buffer[self._sent : self._sent + self.config.batch_max]
        marks = self._progress()
        members, self._members = self._members, {}
        packed: list[bytes] = []
        if batch:
            assert self._sha is not None
            # hiredis packs in C what redis-py's asyncio connection packs in Python, argument
            # by argument: with an argument per event that cost the listener 1 µs per event.
            packed.append(_pack_command((
                "EVALSHA",
                self._sha,
                2,
                self.keys.counters(),
                self.keys.listener_state(self.listener_id),
                self.config.maxlen,
                self.config.dedup_ttl_seconds,
                _pack(list(map(_ROW, batch))),
                *map(_EVENT, batch),
            )))  # fmt: skip
        extras = self._extras(marks, members)
        packed.extend(map(_pack_command, extras))
        # In flight from here: a send that fails is undone by ``_abandon`` like the rest.
        self._in_flight.append(_Sent(batch, marks, members, len(extras) + bool(batch)))
        self._sent += len(batch)
        await connection.send_packed_command(packed, False)

    async def _receive(self, connection: AbstractConnection) -> int:
        """Read the replies of the oldest batch in flight; only then is it forgotten."""
        sent = self._in_flight[0]
        replies = [await connection.read_response() for _ in range(sent.commands)]
        self._in_flight.popleft()
        taken = len(sent.batch)
        del self._buffer[:taken]
        self._sent -= taken
        if len(self._buffer) < self.config.memory_entries:
            self._room.set()
        self._marked.update(sent.marks)
        self.stats.flushes += 1
        self.stats.last_flush_at = self._clock()
        return self._settle(sent.batch, replies[0]) if sent.batch else 0

    def _progress(self) -> dict[str, float]:
        """The tracked slots whose last message time moved since it was last written."""
        moved: dict[str, float] = {}
        for key, last_message_at in self._tracked.items():
            value = last_message_at()
            if value is not None and self._marked.get(key) != value:
                moved[key] = value
        return moved

    @staticmethod
    def _extras(
        marks: dict[str, float], members: dict[str, list[str]]
    ) -> list[tuple[str | float, ...]]:
        """The commands writing slots' progress and remembered set members."""
        commands: list[tuple[str | float, ...]] = [
            ("HSET", key, "last_message_at", value) for key, value in marks.items()
        ]
        commands.extend(("SADD", key, *group) for key, group in members.items())
        return commands

    def _settle(self, batch: list[Entry], flags: bytes | str) -> int:
        """Count what the script wrote; callbacks only for the rare kinds (revocations, gaps)."""
        text = flags.decode() if isinstance(flags, bytes) else str(flags)
        fresh = text.count("1")
        self.stats.written += fresh
        self.stats.duplicates += len(batch) - fresh
        if fresh == len(batch):
            accepted = batch
        else:
            accepted = [entry for entry, flag in zip(batch, text, strict=True) if flag == "1"]
        self.delivery.record(accepted)
        if self._on_written is not None:
            for entry in accepted:
                if entry.kind != "notification":
                    self._on_written(entry)
        return fresh
