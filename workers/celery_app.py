"""The Celery application of the control plane: ``celery -A workers.celery_app worker``.

Configured once from ``load_settings()``: broker and result backend on ``settings.redis_url``,
tasks on ``settings.celery_queue``, events on so that Flower shows every task.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, signals

from beat_schedule import build_schedule
from kiss.logs import configure_logging
from kiss.settings import Settings, load_settings
from kiss.status.exporter import install_worker_metrics
from kiss.status.heartbeat import install_beat_heartbeat, install_worker_heartbeat

log = logging.getLogger("kiss.worker")


def create_app(settings: Settings) -> Celery:
    app = Celery(
        "kiss", broker=settings.redis_url, backend=settings.redis_url, include=["workers.tasks"]
    )
    app.conf.update(
        task_default_queue=settings.celery_queue,
        worker_send_task_events=True,
        task_send_sent_event=True,
        task_track_started=True,
        worker_prefetch_multiplier=1,
        result_expires=3600,
        timezone="UTC",
        broker_connection_retry_on_startup=True,
        beat_schedule=build_schedule(settings),
        worker_hijack_root_logger=False,
    )
    return app


settings = load_settings()
app = create_app(settings)


def _hub_logging(**_: Any) -> None:
    """Worker and beat log like every hub process: one line per record, tokens masked."""
    configure_logging(settings.log_level, "celery", settings.log_format)


# A receiver here tells Celery to leave logging to us.
signals.setup_logging.connect(_hub_logging, weak=False)


def _refuse_a_foreign_database(**_: Any) -> None:
    """A worker on a database that is not ours (the v5 kissbot.db) stops at once with the
    reason, instead of a traceback in every task."""
    from kiss.errors import ConfigError
    from kiss.store.db import check_database

    try:
        check_database(settings.database_url)
    except ConfigError as error:
        log.critical("%s", error)
        raise SystemExit(1) from None


signals.worker_init.connect(_refuse_a_foreign_database, weak=False)


# Ops hooks (kiss/status): /metrics on metrics_port + 1 and the worker's and beat's heartbeats.
install_worker_metrics(settings)
install_worker_heartbeat(settings)
install_beat_heartbeat(app, settings)
