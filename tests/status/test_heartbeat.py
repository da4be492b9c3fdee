from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import redis

from kiss.keys import Keys
from kiss.status.heartbeat import (
    TTL_SECONDS,
    beat,
    beat_heartbeat_name,
    is_alive,
    worker_heartbeat_name,
)
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


def test_name_is_the_worker_and_its_host() -> None:
    assert worker_heartbeat_name("h1") == "worker:h1"
    assert worker_heartbeat_name() == f"worker:{socket.gethostname()}"


def test_a_beat_writes_a_key_that_expires(redis_client: redis.Redis, keys: Keys) -> None:
    beat(redis_client, keys, "worker:h1", 12.5)
    assert redis_client.get(keys.heartbeat("worker:h1")) == "12.5"  # epoch_text
    assert 0 < redis_client.ttl(keys.heartbeat("worker:h1")) <= TTL_SECONDS


def test_alive_until_the_key_expires(redis_client: redis.Redis, keys: Keys) -> None:
    assert not is_alive(redis_client, keys, "worker:h2")
    beat(redis_client, keys, "worker:h2", 1.0)
    assert is_alive(redis_client, keys, "worker:h2")
    redis_client.delete(keys.heartbeat("worker:h2"))  # what the TTL does
    assert not is_alive(redis_client, keys, "worker:h2")


def test_beat_name_is_beat_and_its_host() -> None:
    assert beat_heartbeat_name("h1") == "beat:h1"


def _kiss_check(env: dict[str, str], *processes: str) -> int:
    return subprocess.run(
        [sys.executable, "-m", "kiss", "check", *processes],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    ).returncode


def test_a_running_celery_beat_passes_kiss_check_beat_and_fails_it_once_stopped(
    redis_url: str, keys: Keys, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KISSBOT_")}
    (tmp_path / "hub.yaml").write_text("log_level: INFO\n")
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "KISSBOT_CONFIG": str(tmp_path / "hub.yaml"),
            "KISSBOT_REDIS_URL": redis_url,
            "KISSBOT_KEY_PREFIX": keys.prefix,
            "KISSBOT_CELERY_QUEUE": f"{keys.prefix}:celery",
            "KISSBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'hub.db'}",
        }
    )
    assert _kiss_check(env, "beat") == 1  # nothing runs yet
    with open(tmp_path / "beat.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers.celery_app", "beat",
             "--schedule", str(tmp_path / "beat-schedule"), "--loglevel", "INFO"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(lambda: _kiss_check(env, "beat") == 0, within=60, what="beat's heartbeat")
        # Refreshed by the scheduler's ticks, not written once: the TTL is renewed.
        first = wait_for(lambda: redis_client_get(redis_url, keys), what="the heartbeat")
        wait_for(lambda: redis_client_get(redis_url, keys) not in (None, first), within=30,
                 what="a refreshed heartbeat")  # fmt: skip
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert _kiss_check(env, "beat") == 1, (tmp_path / "beat.log").read_text()


def redis_client_get(redis_url: str, keys: Keys) -> str | None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        names = list(client.scan_iter(match=keys.heartbeat("beat:*")))
        value = client.get(names[0]) if names else None
        return str(value) if value is not None else None
    finally:
        client.close()
