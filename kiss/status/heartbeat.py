"""Liveness as data: ``Keys.heartbeat("worker:<host>")``, ``Keys.heartbeat("beat:<host>")``
and ``Keys.heartbeat("control:<consumer>")``, each with a TTL, written by ``beat``.

The worker's is refreshed on Celery's own ``heartbeat_sent`` signal (every 2 s while events
are on); beat's by its scheduler on every tick, which comes at least every
``BEAT_REFRESH_SECONDS``. A hung or dead process's key expires and ``kiss check worker`` /
``kiss check beat`` exits 1; beat deletes its key when it stops.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import TYPE_CHECKING, Any

import redis

from kiss.contracts.timestamps import epoch_text
from kiss.keys import Keys
from kiss.settings import Settings

if TYPE_CHECKING:
    from celery import Celery

log = logging.getLogger(__name__)

TTL_SECONDS = 15
BEAT_REFRESH_SECONDS = 5.0  # a third of the TTL: one late tick does not make beat look dead


def worker_heartbeat_name(hostname: str | None = None) -> str:
    return f"worker:{hostname or socket.gethostname()}"


def beat_heartbeat_name(hostname: str | None = None) -> str:
    return f"beat:{hostname or socket.gethostname()}"


def control_heartbeat_name(consumer: str) -> str:
    return f"control:{consumer}"


def beat(
    client: redis.Redis, keys: Keys, name: str, now: float, ttl_ms: int = TTL_SECONDS * 1000
) -> None:
    """Refresh the heartbeat ``name`` (its value: when it was written)."""
    client.set(keys.heartbeat(name), epoch_text(now), px=ttl_ms)


def is_alive(client: redis.Redis, keys: Keys, name: str) -> bool:
    """The heartbeat ``name`` has not expired (raises RedisError when Redis cannot tell)."""
    return bool(client.exists(keys.heartbeat(name)))


def install_worker_heartbeat(settings: Settings) -> None:
    """Connect ``heartbeat_sent``: each Celery heartbeat refreshes the worker's key."""
    from celery import signals

    keys = Keys(settings.key_prefix)
    name = worker_heartbeat_name()
    clients: list[redis.Redis] = []  # one client, made in the worker's own process

    def on_heartbeat(**_: Any) -> None:
        if not clients:
            clients.append(redis.Redis.from_url(settings.redis_url, socket_timeout=2))
        try:
            beat(clients[0], keys, name, time.time())
        except redis.RedisError as error:
            log.warning("worker heartbeat not written: %s", error)

    signals.heartbeat_sent.connect(on_heartbeat, weak=False)


def install_beat_heartbeat(app: Celery, settings: Settings) -> None:
    """Make ``app``'s beat scheduler publish beat's heartbeat: refreshed after each tick (in
    the beat process itself, so a hung scheduler stops refreshing it), deleted on close."""
    from celery.beat import PersistentScheduler

    keys = Keys(settings.key_prefix)

    class HeartbeatScheduler(PersistentScheduler):  # type: ignore[misc]
        """Celery's default scheduler, which also writes beat's heartbeat."""

        def setup_schedule(self) -> None:
            super().setup_schedule()
            self._heartbeat_name = beat_heartbeat_name()
            self._heartbeat_client = redis.Redis.from_url(settings.redis_url, socket_timeout=2)

        def tick(self, *args: Any, **kwargs: Any) -> float:
            interval = float(super().tick(*args, **kwargs))
            try:
                beat(self._heartbeat_client, keys, self._heartbeat_name, time.time())
            except redis.RedisError as error:
                log.warning("beat heartbeat not written: %s", error)
            return min(interval, BEAT_REFRESH_SECONDS)

        def close(self) -> None:
            try:
                self._heartbeat_client.delete(keys.heartbeat(self._heartbeat_name))
                self._heartbeat_client.close()
            except redis.RedisError as error:
                log.warning("beat heartbeat not removed: %s", error)
            super().close()

    app.conf.beat_scheduler = HeartbeatScheduler
