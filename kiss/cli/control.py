"""``kiss control``: serve bots' subscribe/unsubscribe/hello requests (workers/control.py)."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click

from kiss.errors import ConfigError
from kiss.keys import Keys
from kiss.logs import configure_logging, redact
from kiss.settings import load_settings

log = logging.getLogger("kiss.control")


@click.command("control")
@click.option("--block-ms", type=int, default=1000, show_default=True, help="XREADGROUP block.")
def control(block_ms: int) -> None:
    """Validate bots' requests, record desired subscriptions, send kiss.subscribe to Celery."""
    # Heavy imports here, so that `kiss --help` stays light.
    import redis
    from celery import Celery

    from kiss.store.db import make_engine, session_factory
    from workers.control import ControlWorker

    try:
        settings = load_settings()
    except ConfigError as error:
        raise click.ClickException(str(error)) from error
    configure_logging(settings.log_level, "control", settings.log_format)
    client = redis.Redis.from_url(
        settings.redis_url, decode_responses=True, socket_timeout=block_ms / 1000 + 10
    )
    engine = make_engine(settings.database_url)
    worker = ControlWorker(
        client,
        Keys(settings.key_prefix),
        session_factory(engine),
        Celery("kiss-control", broker=settings.redis_url),
        queue=settings.celery_queue,
        transport=settings.eventsub.transport,
        block_ms=block_ms,
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info(
        "control plane serving %s on %s (queue %r)",
        Keys(settings.key_prefix).control_requests(),
        redact(settings.redis_url),
        settings.celery_queue,
    )
    try:
        worker.run(stop)
    finally:
        client.close()
        engine.dispose()
    log.info("stopped after %d requests", worker.handled)
