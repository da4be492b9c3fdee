"""The workers' Prometheus endpoint on real Redis and SQLite, scraped over HTTP."""

from __future__ import annotations

import pytest
import redis
import requests
from prometheus_client import CollectorRegistry, generate_latest

from kiss.keys import Keys
from kiss.settings import Settings
from kiss.status.exporter import (
    HubCollector,
    WorkerMetricsHooks,
    serve_worker_metrics,
    worker_health,
)
from kiss.status.heartbeat import beat
from kiss.store.db import make_engine, session_factory, upgrade
from kiss.store.models import DesiredSubscription
from tests.redis_server import free_port


@pytest.fixture
def database(sqlite_url: str) -> str:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    with session_factory(engine)() as session:
        session.add_all(
            [
                DesiredSubscription(
                    channel_id="1", type="stream.online", condition="{}", state="failed"
                ),
                DesiredSubscription(
                    channel_id="1", type="stream.offline", condition="{}", state="pending"
                ),
            ]
        )
        session.commit()
    engine.dispose()
    return sqlite_url


def test_collector_reports_subscriptions_bots_and_drain(
    database: str, redis_client: redis.Redis, keys: Keys
) -> None:
    redis_client.set(keys.drain(), "1")
    redis_client.hset(
        keys.bot_presence("1", "example"),
        mapping={"channel_id": "1", "bot": "example", "lag": "7", "pending": "2"},
    )
    registry = CollectorRegistry()
    sessions = session_factory(make_engine(database))
    registry.register(HubCollector(redis_client, keys, sessions, "conduit", clock=lambda: 100.0))
    text = generate_latest(registry).decode()
    assert 'kiss_desired_subscriptions{state="active"} 0.0' in text
    assert 'kiss_desired_subscriptions{state="failed"} 1.0' in text
    assert 'kiss_desired_subscriptions{state="pending"} 1.0' in text
    assert "kiss_enabled_subscriptions 0.0" in text
    assert 'kiss_bot_lag{bot="example",channel="1"} 7.0' in text
    assert 'kiss_bot_pending{bot="example",channel="1"} 2.0' in text
    assert "kiss_draining 1.0" in text
    assert "kiss_up 0.0" in text


def test_a_scrape_survives_an_unreadable_database(
    sqlite_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    registry = CollectorRegistry()
    sessions = session_factory(make_engine(sqlite_url))  # no schema: every query fails
    registry.register(HubCollector(redis_client, keys, sessions, "conduit"))
    assert "kiss_desired_subscriptions" not in generate_latest(registry).decode()


def test_worker_metrics_are_served_over_http(
    database: str,
    redis_url: str,
    redis_client: redis.Redis,
    keys: Keys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    settings = Settings(
        redis_url=redis_url, database_url=database, key_prefix=keys.prefix, metrics_port=0
    )
    heartbeat = f"worker:{keys.prefix}"
    port = serve_worker_metrics(settings, heartbeat=heartbeat)  # on metrics_host: 127.0.0.1
    url = f"http://127.0.0.1:{port}"
    text = requests.get(f"{url}/metrics", timeout=5).text
    assert 'kiss_desired_subscriptions{state="failed"} 1.0' in text
    assert "kiss_celery_tasks_total" in text
    # /healthz: the verdict of ``kiss check worker``, this worker's heartbeat key.
    silent = requests.get(f"{url}/healthz", timeout=5)
    assert silent.status_code == 503
    assert silent.json() == {
        "healthy": False, "heartbeat": heartbeat, "problem": "no live heartbeat"
    }  # fmt: skip
    beat(redis_client, keys, heartbeat, 1.0)
    alive = requests.get(f"{url}/healthz", timeout=5)
    assert alive.status_code == 200 and alive.json()["healthy"] is True
    assert requests.get(f"{url}/", timeout=5).status_code == 404


def test_worker_health_is_unhealthy_when_redis_cannot_tell(keys: Keys) -> None:
    unreachable = redis.Redis(port=free_port(), socket_connect_timeout=1)
    healthy, details = worker_health(unreachable, keys, "worker:h")()
    assert healthy is False and details["problem"].startswith("Redis: ")


def test_hooks_serve_once_per_process_and_count_finished_tasks(
    database: str, redis_url: str, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")  # off: the process's own registry
    settings = Settings(
        redis_url=redis_url, database_url=database, key_prefix=keys.prefix, metrics_port=0
    )
    hooks = WorkerMetricsHooks(settings)
    hooks.port = 1  # as if this process already served: a second worker must not try again
    hooks.on_worker_init()
    assert hooks.port == 1

    class Task:
        name = "kiss.e2e-probe"

    hooks.on_task_postrun(task=Task(), state="SUCCESS")
    hooks.on_task_postrun(task=Task(), state="FAILURE")
    text = generate_latest().decode()
    assert 'kiss_celery_tasks_total{state="SUCCESS",task="kiss.e2e-probe"} 1.0' in text
    assert 'kiss_celery_tasks_total{state="FAILURE",task="kiss.e2e-probe"} 1.0' in text
