"""The Celery worker's liveness as data: ``Keys.heartbeat("worker:<host>")`` with a TTL.

Refreshed on Celery's own ``heartbeat_sent`` signal (every 2 s while events are on), so a
hung or dead worker's key expires and ``kiss check worker`` exits 1.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import redis

from kiss.keys import Keys
from kiss.settings import Settings

log = logging.getLogger(__name__)

TTL_SECONDS = 15


def worker_heartbeat_name(hostname: str | None = None) -> str:
    return f"worker:{hostname or socket.gethostname()}"


def beat(client: redis.Redis, keys: Keys, name: str, now: float) -> None:
    client.set(keys.heartbeat(name), f"{now:.3f}", ex=TTL_SECONDS)


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
