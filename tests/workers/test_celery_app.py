from __future__ import annotations

import logging

import pytest
from celery import signals

from kiss.contracts import tasks
from kiss.settings import EventSubSection, Settings
from workers.celery_app import create_app


def test_app_is_configured_from_the_settings() -> None:
    settings = Settings(
        redis_url="redis://127.0.0.1:6379/3",
        celery_queue="q-test",
        eventsub=EventSubSection(reconcile_interval=7),
    )
    app = create_app(settings)
    assert app.conf.broker_url == "redis://127.0.0.1:6379/3"
    assert app.conf.result_backend == "redis://127.0.0.1:6379/3"
    assert app.conf.task_default_queue == "q-test"
    assert app.conf.worker_send_task_events and app.conf.task_send_sent_event
    assert app.conf.beat_schedule["reconcile"]["schedule"] == 7
    app.loader.import_default_modules()
    assert set(tasks.NAMES) <= set(app.tasks)


def test_celery_leaves_logging_to_the_hub_and_masks_tokens(
    capsys: pytest.CaptureFixture[str],
) -> None:
    signals.setup_logging.send(
        sender=None, loglevel="INFO", logfile=None, format="", colorize=False
    )
    logging.getLogger("celery.test").warning("refresh failed: refresh_token=abcd1234efgh")
    err = capsys.readouterr().err
    assert "celery celery.test: refresh failed" in err
    assert "abcd1234efgh" not in err
