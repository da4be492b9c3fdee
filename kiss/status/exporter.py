"""The workers' Prometheus endpoint: subscriptions desired/active/failed, bots' lag, drain,
last reconciliation (read from the read model at scrape time), Celery task outcomes, and the
Helix client's request and rate-limit metrics.

Celery's prefork children count tasks and Helix calls; prometheus_client's multiprocess mode
(``PROMETHEUS_MULTIPROC_DIR``) lets the worker's main process serve them all on one port:
``settings.metrics_port + WORKER_METRICS_OFFSET`` (the listener serves ``metrics_port``),
on ``settings.metrics_host``, with ``/healthz``: 200 while this host's worker heartbeat is live
(the verdict of ``kiss check worker``), 503 otherwise.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from kiss.keys import Keys
from kiss.metrics_server import Health, serve
from kiss.settings import Settings
from kiss.status.gather import gather_status
from kiss.status.heartbeat import is_alive, worker_heartbeat_name

log = logging.getLogger(__name__)

WORKER_METRICS_OFFSET = 1

TASKS = Counter(
    "kiss_celery_tasks_total",
    "Celery tasks finished, by task name and final state.",
    ["task", "state"],
)


class HubCollector(Collector):
    """Gauges read from Redis and the store when Prometheus scrapes."""

    def __init__(
        self,
        redis_client: redis.Redis,
        keys: Keys,
        sessions: Callable[[], Session],
        transport: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis_client
        self._keys = keys
        self._sessions = sessions
        self._transport = transport
        self._clock = clock

    def collect(self) -> Iterator[Any]:
        now = self._clock()
        try:
            with self._sessions() as session:
                hub = gather_status(
                    self._redis, self._keys, session, transport=self._transport, now=now
                )
        except Exception as error:  # a scrape must not crash the worker; say why, once a scrape
            log.warning("hub metrics unavailable: %s", error)
            return
        # Not ``kiss_subscriptions``: the reconciler's own gauge has that name.
        by_state = GaugeMetricFamily(
            "kiss_desired_subscriptions",
            "Desired subscriptions by placement state (active, pending, failed...).",
            labels=["state"],
        )
        states = {"active": hub.desired - len(hub.missing), "pending": 0, "failed": 0}
        for item in hub.missing:
            states[item.state] = states.get(item.state, 0) + 1
        for state, count in sorted(states.items()):
            by_state.add_metric([state], count)
        yield by_state
        yield GaugeMetricFamily(
            "kiss_enabled_subscriptions",
            "Subscriptions Twitch reports enabled, as last seen.",
            value=hub.active,
        )
        lag = GaugeMetricFamily(
            "kiss_bot_lag", "Entries not yet delivered to a bot.", labels=["channel", "bot"]
        )
        pending = GaugeMetricFamily(
            "kiss_bot_pending",
            "Entries delivered to a bot, not yet acknowledged.",
            labels=["channel", "bot"],
        )
        for channel in hub.channels:
            for bot in channel.bots:
                if bot.lag is not None:
                    lag.add_metric([channel.channel_id, bot.bot], bot.lag)
                pending.add_metric([channel.channel_id, bot.bot], bot.pending)
        yield lag
        yield pending
        yield GaugeMetricFamily(
            "kiss_draining", "1 while the hub is drained.", value=float(hub.draining)
        )
        yield GaugeMetricFamily("kiss_up", "1 while events can flow.", value=float(hub.up))
        if hub.last_reconcile_at is not None:
            yield GaugeMetricFamily(
                "kiss_last_reconcile_age_seconds",
                "Seconds since the last reconciliation.",
                value=max(0.0, now - hub.last_reconcile_at),
            )


def worker_registry(collector: Collector) -> CollectorRegistry:
    """The registry the worker serves: every process's metrics plus the hub's gauges."""
    multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc_dir:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=multiproc_dir)  # type: ignore[no-untyped-call]
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    registry.register(collector)
    return registry


def worker_health(client: redis.Redis, keys: Keys, name: str | None = None) -> Health:
    """``/healthz``: this worker's heartbeat is live (``kiss check worker``'s verdict)."""
    heartbeat = name or worker_heartbeat_name()

    def health() -> tuple[bool, dict[str, Any]]:
        try:
            alive = is_alive(client, keys, heartbeat)
        except redis.RedisError as error:
            return False, {"heartbeat": heartbeat, "problem": f"Redis: {error}"}
        return alive, {"heartbeat": heartbeat, "problem": "" if alive else "no live heartbeat"}

    return health


def serve_worker_metrics(
    settings: Settings, *, addr: str | None = None, heartbeat: str | None = None
) -> int:
    """Start /metrics and /healthz in a thread of the worker's main process; returns the port.
    ``addr``: ``settings.metrics_host`` unless given."""
    from kiss.store.db import make_engine, session_factory

    client = redis.Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=5)
    keys = Keys(settings.key_prefix)
    sessions = session_factory(make_engine(settings.database_url))
    collector = HubCollector(client, keys, sessions, settings.eventsub.transport)
    port = settings.metrics_port + WORKER_METRICS_OFFSET if settings.metrics_port else 0
    host = addr or settings.metrics_host
    _server, bound = serve(
        worker_registry(collector), worker_health(client, keys, heartbeat), port, host
    )
    log.info("worker metrics on %s port %d (/metrics, /healthz)", host, bound)
    return bound


class WorkerMetricsHooks:
    """The Celery signal handlers: serve metrics from the main process, count task outcomes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port: int | None = None  # once per process, even if a second worker starts in it

    def on_worker_init(self, **_: Any) -> None:
        if self.port is not None:
            return
        try:
            self.port = serve_worker_metrics(self.settings)
        except (OSError, ValueError) as error:  # a busy port must not stop the worker
            log.warning("worker metrics not served: %s", error)

    def on_task_postrun(self, task: Any = None, state: str | None = None, **_: Any) -> None:
        TASKS.labels(task=getattr(task, "name", "?"), state=state or "UNKNOWN").inc()

    def on_process_exit(self, pid: int | None = None, **_: Any) -> None:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(pid or os.getpid())  # type: ignore[no-untyped-call]


def install_worker_metrics(settings: Settings) -> WorkerMetricsHooks:
    """Connect the hooks to Celery's signals (in workers/celery_app.py)."""
    from celery import signals

    hooks = WorkerMetricsHooks(settings)
    signals.worker_init.connect(hooks.on_worker_init, weak=False)
    signals.task_postrun.connect(hooks.on_task_postrun, weak=False)
    signals.worker_process_shutdown.connect(hooks.on_process_exit, weak=False)
    return hooks
