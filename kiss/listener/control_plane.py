"""``ControlPlane``: what the listener tells the control plane, by Celery task name (the listener
never imports the tasks module).

Sending is a blocking broker call, so the async listener runs it in a thread; a failure is
logged and counted, never allowed to stop event delivery.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kiss.contracts.tasks import Revoked, SessionWelcomed, TaskCall, TaskSender, send

log = logging.getLogger(__name__)


class ControlPlane:
    def __init__(self, sender: TaskSender, queue: str) -> None:
        self.sender = sender
        self.queue = queue
        self.failures = 0

    async def session_welcomed(self, session_id: str, user_id: str) -> None:
        """A websocket-transport session is fresh: recreate that user's subscriptions on it."""
        await self._send(SessionWelcomed(session_id=session_id, user_id=user_id))

    async def revoked(
        self, subscription_id: str, channel_id: str, type_: str, version: str, reason: str
    ) -> None:
        await self._send(Revoked(subscription_id, channel_id, type_, version, reason))

    async def _send(self, call: TaskCall) -> None:
        try:
            await asyncio.to_thread(send, self.sender, call, self.queue)
        except Exception as error:
            self.failures += 1
            log.error("could not send %s to the control plane: %s", call.task, error)


class LazyCelerySender:
    """A Celery app used only to send tasks by name, imported at the first send: a conduit
    listener may never send one, and Celery costs memory."""

    def __init__(self, broker_url: str) -> None:
        self.broker_url = broker_url
        self._app: TaskSender | None = None

    def send_task(self, name: str, *, kwargs: dict[str, Any], queue: str) -> Any:
        if self._app is None:
            from celery import Celery

            self._app = Celery("kiss-listener", broker=self.broker_url)
        return self._app.send_task(name, kwargs=kwargs, queue=queue)


def celery_sender(broker_url: str) -> TaskSender:
    return LazyCelerySender(broker_url)
