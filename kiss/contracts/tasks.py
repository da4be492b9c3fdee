"""The control plane's Celery tasks: their names and their arguments (no Celery import).

Senders (the listener, workers/control.py, the CLI, the worker itself) name a task by the
constants here and build its arguments with the call classes, whose fields are the task's
keyword arguments (tests/contracts/test_tasks.py holds workers/tasks.py to them); ``send``
sends one through anything with Celery's ``send_task`` (``TaskSender``). workers/tasks.py
registers each task under its name here, and beat_schedule.py schedules them by it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Protocol

# Tasks without arguments.
RECONCILE: Final = "kiss.reconcile"
RESYNC: Final = "kiss.resync"
VALIDATE_TOKENS: Final = "kiss.validate_tokens"
TRIM_STREAMS: Final = "kiss.trim_streams"
# Tasks with arguments: the name of each call class below.
SUBSCRIBE: Final = "kiss.subscribe"
UNSUBSCRIBE: Final = "kiss.unsubscribe"
SESSION_WELCOMED: Final = "kiss.session_welcomed"
REVOKED: Final = "kiss.revoked"


@dataclass(frozen=True)
class Subscribe:
    """workers/control.py recorded a desired subscription: place it now."""

    task: ClassVar[str] = SUBSCRIBE
    desired_id: int
    channel_id: str


@dataclass(frozen=True)
class Unsubscribe:
    """workers/control.py forgot a desired subscription: delete it on Twitch now."""

    task: ClassVar[str] = UNSUBSCRIBE
    channel_id: str
    type: str
    version: str
    condition: dict[str, str]


@dataclass(frozen=True)
class SessionWelcomed:
    """A websocket-transport session got a fresh welcome: recreate its user's subscriptions."""

    task: ClassVar[str] = SESSION_WELCOMED
    session_id: str
    user_id: str


@dataclass(frozen=True)
class Revoked:
    """Twitch revoked a subscription: stop retrying it and show why."""

    task: ClassVar[str] = REVOKED
    subscription_id: str
    channel_id: str
    type: str
    version: str
    reason: str


TaskCall = Subscribe | Unsubscribe | SessionWelcomed | Revoked
CALLS: Final[tuple[type[TaskCall], ...]] = (Subscribe, Unsubscribe, SessionWelcomed, Revoked)
NAMES: Final = (RECONCILE, RESYNC, VALIDATE_TOKENS, TRIM_STREAMS, *(c.task for c in CALLS))


class TaskSender(Protocol):
    """What a sender needs of Celery: ``Celery.send_task``."""

    def send_task(self, name: str, *, kwargs: dict[str, Any], queue: str) -> Any: ...


def arguments(call: TaskCall) -> dict[str, Any]:
    """The task's keyword arguments."""
    return {field.name: getattr(call, field.name) for field in dataclasses.fields(call)}


def send(sender: TaskSender, call: TaskCall, queue: str) -> Any:
    """Send one task by name, with its arguments; whatever ``send_task`` returns."""
    return sender.send_task(call.task, kwargs=arguments(call), queue=queue)
