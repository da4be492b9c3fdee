from __future__ import annotations

import socket

import redis

from kiss.keys import Keys
from kiss.status.heartbeat import TTL_SECONDS, beat, is_alive, worker_heartbeat_name


def test_name_is_the_worker_and_its_host() -> None:
    assert worker_heartbeat_name("h1") == "worker:h1"
    assert worker_heartbeat_name() == f"worker:{socket.gethostname()}"


def test_a_beat_writes_a_key_that_expires(redis_client: redis.Redis, keys: Keys) -> None:
    beat(redis_client, keys, "worker:h1", 12.5)
    assert redis_client.get(keys.heartbeat("worker:h1")) == "12.500"
    assert 0 < redis_client.ttl(keys.heartbeat("worker:h1")) <= TTL_SECONDS


def test_alive_until_the_key_expires(redis_client: redis.Redis, keys: Keys) -> None:
    assert not is_alive(redis_client, keys, "worker:h2")
    beat(redis_client, keys, "worker:h2", 1.0)
    assert is_alive(redis_client, keys, "worker:h2")
    redis_client.delete(keys.heartbeat("worker:h2"))  # what the TTL does
    assert not is_alive(redis_client, keys, "worker:h2")
