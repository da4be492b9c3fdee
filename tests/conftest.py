"""Fixtures shared by the whole suite: real Redis and PostgreSQL, isolated by key prefix."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from kiss import localrun
from kiss.keys import Keys
from kiss.simulator.testing import SimulatorControl, SimulatorHandle, run_simulator_process
from tests.ports import free_ports
from tests.redis_server import PrivateRedis
from tests.waiting import TIME_UNIT

ROOT = Path(__file__).resolve().parents[1]

REDIS_URL = os.environ.get("KISS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get(
    "KISS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# A `kiss run` of the developer's in this directory must not lend its settings to the tests.
os.environ.setdefault(localrun.PATH_VARIABLE, "")


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """Tests that configure a hub process's logging must not leave handlers on closed streams."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def keys(redis_client: redis.Redis) -> Iterator[Keys]:
    """A key prefix of this test's own, deleted afterwards: tests never share Redis keys."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield Keys(prefix=prefix)
    doomed = list(redis_client.scan_iter(match=f"{prefix}:*", count=1000))
    # The test's Celery queue (q-<prefix>) and kombu's bindings of it go too.
    doomed += redis_client.scan_iter(match=f"*q-{prefix}", count=1000)
    if doomed:
        redis_client.delete(*doomed)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A redis-server of this test's own (AOF on): the test may stop, restart, fill or cut it.

    The shared Redis (``redis_url``) may be a developer's running hub: a test that kills
    clients, flushes, shuts down or reconfigures a Redis does it to this one.
    """
    server = PrivateRedis(str(tmp_path / "redis"))
    Path(server.directory).mkdir(parents=True, exist_ok=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database of this test's own, dropped afterwards."""
    import psycopg

    admin_url = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    name = f"kiss_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = POSTGRES_URL.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: os.PathLike[str]) -> str:
    return f"sqlite:///{tmp_path}/kiss-hub.db"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The hub's schema, migrated, on SQLite and on PostgreSQL in turn."""
    from kiss.store.db import upgrade

    url = str(
        request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    )
    upgrade(url)
    return url


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorHandle]:
    """The Twitch simulator as a process of its own, at 1/50 of Twitch's time."""
    with run_simulator_process(time_unit=TIME_UNIT) as handle:
        yield handle


@pytest.fixture
def control(simulator: SimulatorHandle) -> Iterator[SimulatorControl]:
    """The simulator's control API, with no faults left over from another test."""
    control = SimulatorControl(simulator.base_url)
    control.clear_faults()
    yield control
    control.clear_faults()
    control.http.close()


@pytest.fixture
def sessions(sqlite_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on a fresh, migrated SQLite store (tests/store runs both databases)."""
    from kiss.store.db import make_engine, session_factory, upgrade

    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def hub_env(
    tmp_path: Path, redis_url: str, keys: Keys, redis_client: redis.Redis
) -> Iterator[dict[str, str]]:
    """What a user has set in every terminal of a hub run: where Redis and the database are."""
    queue_name = f"hub-{uuid.uuid4().hex[:8]}"
    metrics_port, _worker_port = free_ports(2)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("KISSBOT_", "FLOWER_", "PROMETHEUS_"))
    }
    yield {
        **env,
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "KISSBOT_REDIS_URL": redis_url,
        "KISSBOT_KEY_PREFIX": keys.prefix,
        "KISSBOT_CELERY_QUEUE": queue_name,
        "KISSBOT_DATABASE_URL": f"sqlite:///{tmp_path}/kiss-hub.db",
        "KISSBOT_SECRET_KEY_FILE": str(tmp_path / "kissbot.key"),
        "KISSBOT_METRICS_PORT": str(metrics_port),
        "KISSBOT_EVENTSUB__RECONCILE_INTERVAL": "3",
    }
    # The Celery queue's own keys (the hub's are under the ``keys`` prefix, cleaned by it).
    redis_client.delete(
        queue_name, f"_kombu.binding.{queue_name}", f"_kombu.binding_permanent.{queue_name}"
    )
