from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery import signals
from cryptography.fernet import Fernet

from kiss.contracts import tasks
from kiss.keys import Keys
from kiss.settings import EventSubSection, Settings
from tests.v5seed import V5Channel, make_v5_db, sha256
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


def test_a_worker_on_the_v5_database_stops_at_once_with_the_reason(
    redis_url: str, keys: Keys, tmp_path: Path
) -> None:
    v5 = make_v5_db(tmp_path / "kissbot.db", Fernet.generate_key(), (V5Channel("1", "one"),))
    before = sha256(v5)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KISSBOT_")},
        "KISSBOT_LOCAL_RUN": "",
        "KISSBOT_REDIS_URL": redis_url,
        "KISSBOT_KEY_PREFIX": keys.prefix,
        "KISSBOT_CELERY_QUEUE": f"{keys.prefix}:celery",
        "KISSBOT_DATABASE_URL": f"sqlite:///{v5}",
        "KISSBOT_METRICS_PORT": "0",
    }
    worker = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "-Q",
         env["KISSBOT_CELERY_QUEUE"], "--without-gossip", "--without-mingle", "-c", "1"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    output = worker.stdout + worker.stderr
    assert worker.returncode == 1, output
    assert "is an EventSub Hub v5.0 kissbot.db: this hub leaves it untouched" in output
    assert "Traceback" not in output
    assert sha256(v5) == before
