"""The task contract: each name is registered by workers/tasks.py with exactly its arguments."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

from beat_schedule import build_schedule
from kiss.contracts import tasks
from kiss.settings import Settings
from workers.celery_app import create_app

NO_ARGUMENTS = (tasks.RECONCILE, tasks.RESYNC, tasks.VALIDATE_TOKENS, tasks.TRIM_STREAMS)


@pytest.fixture(scope="module")
def registered() -> dict[str, Any]:
    app = create_app(Settings(celery_queue="q-contract"))
    app.loader.import_default_modules()
    return {name: app.tasks[name] for name in app.tasks if name.startswith("kiss.")}


def parameters(task: Any) -> tuple[str, ...]:
    return tuple(inspect.signature(task.run).parameters)


def test_the_wire_names_stay() -> None:
    # Renaming one strands the messages already queued under the old name.
    assert set(tasks.NAMES) == {
        "kiss.reconcile", "kiss.resync", "kiss.subscribe", "kiss.unsubscribe",
        "kiss.session_welcomed", "kiss.revoked", "kiss.validate_tokens", "kiss.trim_streams",
    }  # fmt: skip


def test_every_name_is_registered(registered: dict[str, Any]) -> None:
    assert set(registered) == set(tasks.NAMES)


@pytest.mark.parametrize("call", tasks.CALLS, ids=lambda call: call.task)
def test_a_call_carries_exactly_the_task_arguments(
    call: type[tasks.TaskCall], registered: dict[str, Any]
) -> None:
    fields = tuple(field.name for field in dataclasses.fields(call))
    assert parameters(registered[call.task]) == fields


@pytest.mark.parametrize("name", NO_ARGUMENTS)
def test_the_others_take_none(name: str, registered: dict[str, Any]) -> None:
    assert parameters(registered[name]) == ()


def test_beat_schedules_only_contract_tasks() -> None:
    scheduled = {entry["task"] for entry in build_schedule(Settings()).values()}
    assert scheduled <= set(NO_ARGUMENTS)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any], str]] = []

    def send_task(self, name: str, *, kwargs: dict[str, Any], queue: str) -> None:
        self.sent.append((name, kwargs, queue))


def test_send_names_the_task_and_passes_its_fields() -> None:
    sender = Recorder()
    tasks.send(sender, tasks.Unsubscribe("42", "stream.online", "1", {"a": "b"}), "q")
    tasks.send(sender, tasks.Subscribe(desired_id=7, channel_id="42"), "q")
    assert sender.sent == [
        (
            "kiss.unsubscribe",
            {"channel_id": "42", "type": "stream.online", "version": "1", "condition": {"a": "b"}},
            "q",
        ),
        ("kiss.subscribe", {"desired_id": 7, "channel_id": "42"}, "q"),
    ]
