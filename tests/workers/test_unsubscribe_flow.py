"""A bot's unsubscribe end to end: workers/control.py forgets the desired row (the one place
that does), a real Celery worker runs kiss.unsubscribe, which deletes it on Twitch and says so."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from celery import Celery

from kiss.reconcile.services import Services
from kiss.settings import Settings
from kiss.store import subscriptions as store
from tests.reconcile.conftest import make_conduit
from tests.waiting import wait_for
from tests.workers.test_control import fields
from tests.workers.test_tasks import (  # noqa: F401  (fixtures)
    desire,
    enabled_channels,
    hub,
    sender,
    settings,
    start,
    worker,
)
from workers.control import ControlWorker

pytestmark = pytest.mark.e2e


class Sent:
    """Celery's ``send_task``, keeping what was sent so the test can read the task's result."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.results: dict[str, Any] = {}

    def send_task(self, name: str, *, kwargs: dict[str, Any], queue: str) -> Any:
        self.results[name] = self.app.send_task(name, kwargs=kwargs, queue=queue)
        return self.results[name]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_unsubscribe_through_control_reports_the_row_removed(
    hub: Services,  # noqa: F811
    sender: Celery,  # noqa: F811
    start: Callable[..., subprocess.Popen[bytes]],  # noqa: F811
    settings: Settings,  # noqa: F811
) -> None:
    make_conduit(hub)
    worker(start, settings, "w1")
    desire(hub, "601")
    sender.send_task("kiss.subscribe").get(timeout=60)
    wait_for(lambda: enabled_channels(hub) == ["601"], what="the subscription on Twitch")
    tasks = Sent(sender)
    control = ControlWorker(
        hub.redis, hub.keys, hub.sessions, tasks, queue=settings.celery_queue, transport="conduit"
    )
    condition = '{"broadcaster_user_id": "601"}'
    request = fields(op="unsubscribe", request_id="u1", channel_id="601", condition=condition)
    _, answer = control.handle(request)
    assert b'"ok":true' in answer
    with hub.sessions() as session:
        assert store.list_desired(session) == []  # forgotten when the bot asked
    result = tasks.results["kiss.unsubscribe"].get(timeout=60)
    assert result["removed"] is True
    wait_for(lambda: enabled_channels(hub) == [], what="the deletion on Twitch")
