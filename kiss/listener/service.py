"""The listener process's core: the transport's session runners, the stream writer and the state
reporter, started together and stopped in order (stop reading, flush, close, report).

Collaborators come in as arguments (Redis client, Helix requester, control plane, dialer),
so tests run the real thing against the simulator and a real Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

import orjson
import redis.asyncio as aioredis

from kiss.cancelling import cancel_and_wait
from kiss.contracts.stream_entry import REVOCATION, REVOCATION_STATUS, Entry
from kiss.errors import ConfigError, OAuthUnavailable, TransientHelixError
from kiss.eventsub.session import SessionConfig, SessionMachine
from kiss.helix.conduits import Requester
from kiss.keys import Keys
from kiss.listener.backoff import Backoff
from kiss.listener.conduit import ShardManager, ensure_conduit, shard_binder
from kiss.listener.control_plane import ControlPlane
from kiss.listener.health import SlotSnapshot, Snapshot, StateReporter, restore_slot
from kiss.listener.leases import LeaseStore
from kiss.listener.runner import SessionRunner
from kiss.listener.slot_hooks import ConduitShardHooks, WebsocketSessionHooks
from kiss.listener.socket import Dial
from kiss.listener.spool import spool_directory
from kiss.listener.user_sessions import MAX_SESSIONS_PER_USER, sessions_to_open
from kiss.listener.writer import StreamWriter, WriterConfig
from kiss.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ListenerOptions:
    listener_id: str
    transport: Literal["conduit", "websocket"]
    ws_url: str
    keepalive_timeout_seconds: int = 10
    users: tuple[str, ...] = ()
    sessions_per_user: int = 1
    conduit_shards: int = 1
    lease_seconds: float = 2.0
    backoff_base: float = 2.0
    backoff_max: float = 60.0
    heartbeat_interval: float = 1.0
    wanted_sessions_poll_seconds: float = 2.0
    session: SessionConfig = field(default_factory=SessionConfig)
    writer: WriterConfig = field(default_factory=WriterConfig)

    def __post_init__(self) -> None:
        if self.transport == "websocket" and not self.users:
            raise ConfigError("the websocket transport needs at least one user id (--user)")
        if not 1 <= self.sessions_per_user <= MAX_SESSIONS_PER_USER:
            raise ConfigError(
                f"sessions_per_user={self.sessions_per_user}: Twitch allows 1 to "
                f"{MAX_SESSIONS_PER_USER} websocket connections per user"
            )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        listener_id: str | None = None,
        users: tuple[str, ...] = (),
        sessions_per_user: int = 1,
        time_unit: float = 1.0,
        transport: Literal["conduit", "websocket"] | None = None,
    ) -> ListenerOptions:
        eventsub = settings.eventsub
        slack = min(1.0, max(0.25, 5 * time_unit))
        listener_id = listener_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        return cls(
            listener_id=listener_id,
            transport=transport or eventsub.transport,
            ws_url=settings.twitch.eventsub_ws_url,
            keepalive_timeout_seconds=eventsub.keepalive_timeout_seconds,
            users=users,
            sessions_per_user=sessions_per_user,
            conduit_shards=eventsub.conduit_shards,
            lease_seconds=eventsub.shard_lease_seconds,
            backoff_base=eventsub.ws_backoff_base,
            backoff_max=eventsub.ws_backoff_max,
            heartbeat_interval=min(1.0, eventsub.shard_lease_seconds / 3),
            wanted_sessions_poll_seconds=max(0.05, 2.0 * time_unit),
            session=SessionConfig(time_unit=time_unit, slack_seconds=slack),
            writer=WriterConfig(
                maxlen=settings.streams.maxlen,
                spool_directory=spool_directory(settings.spool.directory, listener_id),
                spool_max_bytes=settings.spool.max_bytes,
            ),
        )

    @property
    def dial_url(self) -> str:
        """The EventSub URL with the keepalive we ask for (reconnect URLs are used unmodified)."""
        separator = "&" if "?" in self.ws_url else "?"
        query = urlencode({"keepalive_timeout_seconds": self.keepalive_timeout_seconds})
        return f"{self.ws_url}{separator}{query}"


class Listener:
    def __init__(
        self,
        options: ListenerOptions,
        redis_client: aioredis.Redis,
        keys: Keys,
        control: ControlPlane,
        helix: Requester | None = None,
        *,
        dial: Dial | None = None,
    ) -> None:
        if options.transport == "conduit" and helix is None:
            raise ConfigError("the conduit transport needs a Helix client")
        self.options = options
        self.redis = redis_client
        self.keys = keys
        self.control = control
        self.helix = helix
        self.dial = dial
        self.started_at = time.time()
        self.writer = StreamWriter(
            redis_client, keys, options.listener_id, options.writer, on_written=self._written
        )
        self.reporter = StateReporter(
            redis_client, keys, self.snapshot, interval=options.heartbeat_interval
        )
        self.runners: dict[str, SessionRunner] = {}
        self.manager: ShardManager | None = None
        self.stopping = False
        self.unwritten = 0  # entries Redis did not take before the shutdown's deadline
        self._draining = False
        self._tasks: list[asyncio.Task[Any]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._retired_at: dict[str, float] = {}
        self.ready = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set, then shut down in order."""
        self._tasks.append(asyncio.create_task(self.writer.run(), name="writer"))
        self._tasks.append(asyncio.create_task(self.reporter.run(), name="state"))
        setup = (
            self._start_websocket()
            if self.options.transport == "websocket"
            else (self._start_conduit())
        )
        starting = asyncio.create_task(setup, name="setup")
        stopping = asyncio.create_task(stop.wait(), name="stop")
        try:
            # A stop must end the process also while Twitch or Redis keep the setup retrying.
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if starting.done():
                starting.result()  # a permanent setup failure ends the process with it
                self.ready.set()
                await stop.wait()
            else:
                log.info("stopping before the %s was set up", self.options.transport)
        finally:
            await cancel_and_wait([starting, stopping])
            await self.shutdown()

    async def shutdown(self) -> None:
        """Stop reading, flush what was received, close the sockets, report, stop tasks."""
        if self.stopping:
            return
        self.stopping = True
        if self.manager is not None:
            await self.manager.stop()
        await asyncio.gather(*(runner.stop() for runner in self.runners.values()))
        self.unwritten = await self.writer.close()
        if self._background:
            await asyncio.wait(list(self._background), timeout=5)
        with contextlib.suppress(aioredis.RedisError):
            await self.reporter.report(final=True)
        await cancel_and_wait(self._tasks)

    # -- transports -----------------------------------------------------------------------

    async def _start_websocket(self) -> None:
        for user_id in self.options.users:
            for index in range(self.options.sessions_per_user):
                await self._open_session(user_id, index)
        self._tasks.append(asyncio.create_task(self._follow_wanted_sessions(), name="sessions"))

    async def _open_session(self, user_id: str, index: int) -> None:
        slot = f"ws:{user_id}:{index}"
        # Sessions opened on the reconciler's request are retired when Twitch finds them empty.
        on_empty = self._retire if index >= self.options.sessions_per_user else None
        hooks = WebsocketSessionHooks(
            self.redis, self.keys, self.options.listener_id, user_id, self.control, on_empty
        )
        runner = await self._runner(slot, hooks)
        self.runners[slot] = runner
        self._tasks.append(asyncio.create_task(runner.run(), name=slot))

    def _user_slots(self, user_id: str) -> list[str]:
        return [slot for slot in self.runners if slot.startswith(f"ws:{user_id}:")]

    async def _follow_wanted_sessions(self) -> None:
        """Open the sessions the reconciler asks for (its users' sessions are full)."""
        while True:
            await asyncio.sleep(self.options.wanted_sessions_poll_seconds)
            try:
                requests = await self.redis.hgetall(self.keys.ws_sessions_wanted())
            except aioredis.RedisError as error:
                log.warning("cannot read the wanted sessions: %s", error)
                continue
            if self.stopping:
                return
            for user_id in self.options.users:
                slots = self._user_slots(user_id)
                request = requests.get(user_id.encode())
                more = sessions_to_open(len(slots), request, self._retired_at.get(user_id))
                used = {int(slot.rsplit(":", 1)[1]) for slot in slots}
                free = [i for i in range(MAX_SESSIONS_PER_USER) if i not in used]
                for index in free[:more]:
                    log.info("user %s needs another websocket session: opening #%d", user_id, index)
                    await self._open_session(user_id, index)

    def _retire(self, runner: SessionRunner, user_id: str) -> None:
        """An on-request session Twitch closed with 4003 (nothing subscribed): stop it."""
        log.info("%s: closed empty (4003); not reopened until asked again", runner.slot)
        self._retired_at[user_id] = time.time()
        self.runners.pop(runner.slot, None)
        task = asyncio.create_task(runner.stop(), name=f"retire {runner.slot}")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _start_conduit(self) -> None:
        assert self.helix is not None
        backoff = Backoff(self.options.backoff_base, self.options.backoff_max)
        while True:
            try:
                conduit = await ensure_conduit(
                    self.helix,
                    self.redis,
                    self.keys,
                    self.options.conduit_shards,
                    holder=f"listener {self.options.listener_id}",
                )
                break
            except (
                TransientHelixError,
                OAuthUnavailable,
                OSError,
                TimeoutError,
                aioredis.RedisError,
            ) as error:
                # Twitch or Redis briefly unreachable: keep trying; a 4xx (bad credentials,
                # conduit limit) is permanent and ends the process with its message.
                delay = backoff.next_delay()
                log.warning("conduit setup failed (%s); retrying in %.1f s", error, delay)
                await asyncio.sleep(delay)
        leases = LeaseStore(
            self.redis, self.keys, conduit.id, self.options.listener_id, self.options.lease_seconds
        )
        bind = shard_binder(self.helix, conduit.id)

        async def start_shard(shard_id: str, handover_deadline: float | None) -> SessionRunner:
            hooks = ConduitShardHooks(
                conduit.id, shard_id, bind, handover_deadline=handover_deadline
            )
            slot = f"conduit:{conduit.id}:shard:{shard_id}"
            # Handed over by a live owner: nothing was missed unless binding comes too late.
            return await self._runner(slot, hooks, gap=handover_deadline is None)

        self.manager = ShardManager(
            conduit,
            leases,
            start_shard,
            lease_seconds=self.options.lease_seconds,
            draining=self._check_drain,
        )
        await self.manager.tick()  # claim at once, before the first interval
        self._tasks.append(asyncio.create_task(self.manager.run(), name="shards"))

    async def _runner(
        self, slot: str, hooks: WebsocketSessionHooks | ConduitShardHooks, *, gap: bool = True
    ) -> SessionRunner:
        restored = await restore_slot(self.redis, self.keys, slot)
        gap_from = restored.last_message_at if gap else None
        machine = SessionMachine(self.options.session, gap_from=gap_from)
        backoff = Backoff(self.options.backoff_base, self.options.backoff_max)
        return SessionRunner(
            slot,
            self.options.dial_url,
            machine,
            self.writer,
            self.keys,
            hooks,
            backoff,
            dial=self.dial,
            channels=restored.channels,
            session_id=restored.session_id,
        )

    async def _check_drain(self) -> bool:
        self._draining = bool(await self.redis.exists(self.keys.drain()))
        return self._draining

    # -- callbacks and state --------------------------------------------------------------

    def _written(self, entry: Entry) -> None:
        if entry.kind != REVOCATION:
            return
        reason = str(orjson.loads(entry.event).get(REVOCATION_STATUS, ""))
        log.warning(
            "subscription %s (%s v%s, channel %s) revoked: %s",
            entry.subscription_id,
            entry.type,
            entry.version,
            entry.channel_id,
            reason,
        )
        task = asyncio.ensure_future(
            self.control.revoked(
                entry.subscription_id, entry.channel_id, entry.type, entry.version, reason
            )
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def all_runners(self) -> dict[str, SessionRunner]:
        runners = dict(self.runners)
        if self.manager is not None:
            runners.update(self.manager.runners)
        return runners

    def snapshot(self) -> Snapshot:
        runners = self.all_runners()
        slots = tuple(
            SlotSnapshot(
                slot=runner.slot,
                phase=runner.phase,
                session_id=runner.session_id,
                last_message_at=runner.machine.last_message_at,
                connected_at=runner.stats.connected_at,
                delivered=runner.stats.delivered,
                reconnects=runner.stats.reconnects,
                handovers=runner.stats.handovers,
                gaps=runner.stats.gaps,
                dropped=runner.stats.dropped,
                last_reason=runner.stats.last_reason,
            )
            for runner in sorted(runners.values(), key=lambda runner: runner.slot)
        )
        manager = self.manager
        held = manager.held if manager is not None else []
        confirmed = manager.confirmed if manager is not None else []
        return Snapshot(
            listener_id=self.options.listener_id,
            transport=self.options.transport,
            started_at=self.started_at,
            slots=slots,
            pending=self.writer.pending,
            written=self.writer.stats.written,
            duplicates=self.writer.stats.duplicates,
            flushes=self.writer.stats.flushes,
            draining=self._draining,
            stopping=self.stopping,
            shards=tuple(confirmed),
            unconfirmed=tuple(shard for shard in held if shard not in confirmed),
            delivery=self.writer.delivery,
            lease_counts=tuple(manager.counts.items()) if manager is not None else (),
            spool_entries=self.writer.spool.entries if self.writer.spool is not None else 0,
            spool_bytes=self.writer.spool_bytes,
            dropped=self.writer.stats.dropped,
        )
