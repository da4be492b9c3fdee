"""The load generator: events of one type at a given rate across N channels.

Frames come from ``NotificationTemplate``s (one per subscription, rebuilt only when the
subscription set changes), so the cost per event is a uuid, a timestamp and one send.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kiss.eventsub import catalog
from kiss.simulator.adapters.dispatcher import Dispatcher
from kiss.simulator.twitch.clock import FastTimestamps
from kiss.simulator.twitch.frames import NotificationTemplate
from kiss.simulator.twitch.ids import UuidSequence
from kiss.simulator.twitch.model import Subscription
from kiss.simulator.twitch.payloads import event_for
from kiss.simulator.twitch.problems import bad_request, not_found
from kiss.simulator.twitch.routing import target_session
from kiss.simulator.twitch.subscriptions import matching

DEFAULT_TYPE = "channel.chat.message"  # a realistic frame of about 1 KB
REPLAN_EVERY = 0.05  # seconds between looks at the subscription set
BATCH = 1000  # events sent before yielding to the event loop

Target = tuple[NotificationTemplate, str]  # template, session id


@dataclass
class LoadRun:
    id: str
    topic: catalog.Topic
    rate: float  # events per second; 0: as fast as possible
    channels: int | list[str]
    total: int | None
    duration: float | None  # real seconds
    sent: int = 0
    delivered: int = 0
    dropped: int = 0
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    task: asyncio.Task[None] | None = None
    # Subscription id -> its frame template, while the run lasts.
    templates: dict[str, NotificationTemplate] = field(default_factory=dict, repr=False)

    @property
    def running(self) -> bool:
        return self.finished_at is None

    def to_json(self) -> dict[str, Any]:
        return {
            "load_id": self.id,
            "type": self.topic.type,
            "version": self.topic.version,
            "rate": self.rate,
            "sent": self.sent,
            "delivered": self.delivered,
            "dropped": self.dropped,
            "running": self.running,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


def parse_load(body: Any) -> LoadRun:
    if not isinstance(body, dict):
        raise bad_request("load must be a JSON object")
    rate = body.get("rate", 0)
    if not isinstance(rate, int | float) or rate < 0:
        raise bad_request(f"rate must be a number of events per second >= 0, got {rate!r}")
    channels = body.get("channels", 1)
    valid_list = isinstance(channels, list) and all(isinstance(c, str) for c in channels)
    if not valid_list and (not isinstance(channels, int) or channels < 1):
        raise bad_request("channels must be a positive integer or a list of channel ids")
    total, duration = body.get("total"), body.get("duration")
    if total is not None and (not isinstance(total, int) or total < 1):
        raise bad_request(f"total must be a positive integer, got {total!r}")
    if duration is not None and (not isinstance(duration, int | float) or duration <= 0):
        raise bad_request(f"duration must be a number of seconds > 0, got {duration!r}")
    if total is None and duration is None:
        raise bad_request("give total (events) or duration (seconds), or both")
    try:
        topic = catalog.lookup(body.get("type", DEFAULT_TYPE), body.get("version"))
    except Exception as error:
        raise bad_request(str(error)) from None
    return LoadRun(uuid.uuid4().hex[:12], topic, float(rate), channels, total, duration)


class LoadGenerator:
    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.runs: dict[str, LoadRun] = {}

    def start(self, run: LoadRun) -> LoadRun:
        self.runs[run.id] = run
        run.task = asyncio.create_task(self._run(run))
        return run

    def get(self, load_id: str) -> LoadRun:
        run = self.runs.get(load_id)
        if run is None:
            raise not_found(f"load {load_id} not found")
        return run

    async def stop(self, load_id: str) -> LoadRun:
        run = self.get(load_id)
        if run.task is not None:
            run.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await run.task
        return run

    async def stop_all(self) -> None:
        for load_id in list(self.runs):
            await self.stop(load_id)

    def _plan(self, run: LoadRun) -> list[list[Target]]:
        """Per channel, the (template, session id) of each subscription it reaches."""
        state = self.dispatcher.state
        subs = matching(state.subscriptions.values(), run.topic.type, run.topic.version, None, None)
        by_channel: dict[str, list[Subscription]] = {}
        for sub in subs:
            if sub.channel:
                by_channel.setdefault(sub.channel, []).append(sub)
        if isinstance(run.channels, list):
            channels = run.channels
        else:
            channels = list(by_channel)[: run.channels]
        now = self.dispatcher.clock()
        plan: list[list[Target]] = []
        for channel in channels:
            targets: list[Target] = []
            for sub in by_channel.get(channel, ()):
                session_id = target_session(state, sub)
                if session_id is None:
                    continue
                template = run.templates.get(sub.id)
                if template is None:
                    event = event_for(run.topic, sub.condition, now)
                    template = NotificationTemplate(sub, event, run.topic.event_id_field)
                    run.templates[sub.id] = template
                targets.append((template, session_id))
            plan.append(targets)
        return plan

    async def _run(self, run: LoadRun) -> None:
        try:
            await self._emit(run)
        finally:
            run.finished_at = time.time()
            run.templates.clear()

    def _due(self, run: LoadRun, elapsed: float) -> int:
        limit = run.total if run.total is not None else 1 << 62
        if run.rate <= 0:
            return limit
        return min(limit, int(run.rate * elapsed) + 1)

    async def _emit(self, run: LoadRun) -> None:
        ids, stamps = UuidSequence(), FastTimestamps()
        start = time.monotonic()
        replan_at = 0.0
        plan: list[list[Target]] = []
        while True:
            now = time.monotonic()
            elapsed = now - start
            if run.duration is not None and elapsed >= run.duration:
                return
            if run.total is not None and run.sent >= run.total:
                return
            if now >= replan_at:
                plan = self._plan(run)
                replan_at = now + REPLAN_EVERY
            batch = min(self._due(run, elapsed) - run.sent, BATCH)
            if batch <= 0:
                await asyncio.sleep(min(REPLAN_EVERY, (run.sent + 1) / run.rate - elapsed))
                continue
            outbox: dict[str, list[str]] = {}
            for _ in range(batch):
                targets = plan[run.sent % len(plan)] if plan else ()
                if not targets:
                    run.dropped += 1
                for template, session_id in targets:
                    frame = template.render(ids.next(), stamps.now(time.time_ns()), ids.next())
                    outbox.setdefault(session_id, []).append(frame)
                run.sent += 1
            await self._flush(run, outbox)
            await asyncio.sleep(0)

    async def _flush(self, run: LoadRun, outbox: dict[str, list[str]]) -> None:
        """Write each session's frames at once; count what went out and what was dropped."""
        delivered = Counter[str]()
        for session_id, texts in outbox.items():
            # Looked up per batch: after a reconnect handover the new socket takes over.
            link = self.dispatcher.link(session_id)
            try:
                if link is None:
                    raise ConnectionResetError(session_id)
                await link.send_many(texts)
            except ConnectionError:
                run.dropped += len(texts)
            else:
                delivered[session_id] += len(texts)
        stats = self.dispatcher.state.stats
        count = delivered.total()
        run.delivered += count
        stats.notifications_sent += count
        stats.by_session.update(delivered)
