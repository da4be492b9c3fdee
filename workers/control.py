"""The control plane's front door: bots' requests (hello, subscribe, unsubscribe).

Requests are entries on ``Keys.control_requests()`` (docs/architecture.md, "Bots -> control
plane"), read through the consumer group ``control`` so that several of these processes can
share the work. Each request is validated (topic, condition, the scope the channel's token
must carry), recorded in ``desired_subscriptions``, answered on ``Keys.control_reply()``,
and a ``kiss.subscribe`` (or ``kiss.unsubscribe``) task goes to Celery by name (this module
never imports the tasks).

The scope rule is the topic's (``Topic.scope_problem`` in the catalog), the one the planner
applies too. ``check_request`` is pure; ``ControlWorker`` is the Redis/DB adapter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import redis
from sqlalchemy.orm import Session, sessionmaker

from kiss.backoff import backoff
from kiss.client.options import default_consumer_name
from kiss.client.rows import entries, streams
from kiss.errors import KissError, RequestRefused, is_retryable
from kiss.eventsub.catalog import Authorization, Topic, lookup
from kiss.keys import Keys
from kiss.reconcile.outcomes import append_outcome
from kiss.store import subscriptions as store
from kiss.store import tokens
from kiss.store.models import ActiveSubscription, DesiredSubscription

log = logging.getLogger(__name__)

GROUP = "control"
OPS = ("hello", "subscribe", "unsubscribe")
SUBSCRIBE_TASK = "kiss.subscribe"
UNSUBSCRIBE_TASK = "kiss.unsubscribe"


@dataclass(frozen=True)
class ControlRequest:
    request_id: str
    op: str
    bot: str
    channel_id: str
    channel_name: str
    type: str
    version: str
    condition: dict[str, Any]


def parse_request(fields: Mapping[str, str]) -> ControlRequest:
    """The request of one stream entry, or RequestRefused naming the faulty field."""
    request_id = fields.get("request_id", "")
    if not request_id:
        raise RequestRefused("request without request_id")
    op = fields.get("op", "")
    if op not in OPS:
        raise RequestRefused(f"unknown op {op!r}; expected one of {', '.join(OPS)}")
    channel_id = fields.get("channel_id", "")
    if not channel_id:
        raise RequestRefused(f"{op}: channel_id is missing")
    try:
        condition = orjson.loads(fields.get("condition") or "{}")
    except orjson.JSONDecodeError as error:
        raise RequestRefused(f"{op}: condition is not JSON ({error})") from error
    if not isinstance(condition, dict):
        raise RequestRefused(f"{op}: condition must be a JSON object")
    return ControlRequest(
        request_id=request_id,
        op=op,
        bot=fields.get("bot", ""),
        channel_id=channel_id,
        channel_name=fields.get("channel_name", ""),
        type=fields.get("type", ""),
        version=fields.get("version", ""),
        condition=condition,
    )


def check_request(request: ControlRequest) -> tuple[Topic, dict[str, str]]:
    """Topic and cleaned condition of a (un)subscribe; UnknownTopic / InvalidCondition."""
    if not request.type:
        raise RequestRefused(f"{request.op}: type is missing")
    topic = lookup(request.type, request.version or None)
    return topic, topic.validate_condition(request.condition)


def stored_authorization(session: Session, user_id: str) -> Authorization | None:
    """What the stored token of ``user_id`` grants; None when the hub holds no token of theirs."""
    status = tokens.token_status(session, tokens.USER, user_id)
    if status is None:
        return None
    if status[0] != "valid":
        return Authorization(invalid=status[1] or status[0])
    return Authorization(scopes=store.channel_scopes(session, user_id))


def _live_subscription(session: Session, row: DesiredSubscription) -> str | None:
    """The Twitch id of the enabled subscription that already serves ``row``, if any."""
    if row.state != "active" or not row.subscription_id:
        return None
    active = session.get(ActiveSubscription, row.subscription_id)
    if active is None or active.status != "enabled" or active.method != row.transport:
        return None
    return active.twitch_id


def reply(ok: bool, error: str | None = None) -> bytes:
    return orjson.dumps({"ok": ok, "error": error})


class TaskSender(Protocol):
    """What this module needs of Celery: ``Celery.send_task``."""

    def send_task(self, name: str, *, kwargs: dict[str, Any], queue: str) -> Any: ...


class ControlWorker:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        sessions: sessionmaker[Session],
        tasks: TaskSender,
        *,
        queue: str,
        transport: str,
        consumer: str | None = None,
        block_ms: int = 1000,
        reply_ttl: int = 60,
        min_idle_ms: int = 30_000,
        heartbeat_ttl_ms: int = 15_000,
    ) -> None:
        self.client = client
        self.keys = keys
        self.sessions = sessions
        self.tasks = tasks
        self.queue = queue
        self.transport = transport
        self.consumer = consumer or default_consumer_name()
        self.block_ms = block_ms
        self.reply_ttl = reply_ttl
        self.min_idle_ms = min_idle_ms
        self.heartbeat_ttl_ms = heartbeat_ttl_ms
        self.handled = 0

    # -- one request ----------------------------------------------------------------
    def handle(self, fields: Mapping[str, str]) -> tuple[str, bytes]:
        """Carry out one request; (request id, reply). Refusals are replies, not errors."""
        request_id = fields.get("request_id", "")
        try:
            request = parse_request(fields)
            self._carry_out(request)
        except KissError as error:
            log.info("refused %s %s: %s", fields.get("op"), fields.get("type"), error)
            return request_id, reply(False, str(error))
        except ValueError as error:  # e.g. a topic that cannot use this transport
            return request_id, reply(False, str(error))
        return request_id, reply(True)

    def _carry_out(self, request: ControlRequest) -> None:
        if request.op == "hello":
            with self.sessions.begin() as session:
                store.ensure_channel(session, request.channel_id, request.channel_name)
            return
        topic, condition = check_request(request)
        if request.op == "unsubscribe":
            self._unsubscribe(request, topic, condition)
        else:
            self._subscribe(request, topic, condition)

    def _subscribe(self, request: ControlRequest, topic: Topic, condition: dict[str, str]) -> None:
        with self.sessions.begin() as session:
            problem = topic.scope_problem(
                condition, self.transport, lambda user_id: stored_authorization(session, user_id)
            )
            if problem:
                raise RequestRefused(problem)
            row = store.add_desired(
                session,
                channel_id=request.channel_id,
                type=topic.type,
                version=topic.version,
                condition=condition,
                transport=self.transport,
                requested_by=request.bot,
                channel_login=request.channel_name,
            )
            desired_id = row.id
            live = _live_subscription(session, row)
        if live is not None:
            # Asked again (a bot's restart): nothing for the reconciler to do, so its outcome
            # would never come; the bot hears at once that the subscription stands.
            append_outcome(
                self.client,
                self.keys,
                request.channel_id,
                type=topic.type,
                version=topic.version,
                status="active",
                subscription_id=live,
            )
        # After the commit: the task must find the row.
        self.tasks.send_task(
            SUBSCRIBE_TASK,
            kwargs={"desired_id": desired_id, "channel_id": request.channel_id},
            queue=self.queue,
        )

    def _unsubscribe(
        self, request: ControlRequest, topic: Topic, condition: dict[str, str]
    ) -> None:
        with self.sessions.begin() as session:
            store.remove_desired(
                session,
                channel_id=request.channel_id,
                type=topic.type,
                version=topic.version,
                condition=condition,
            )
        # The task deletes it on Twitch now rather than at the next reconcile.
        self.tasks.send_task(
            UNSUBSCRIBE_TASK,
            kwargs={
                "channel_id": request.channel_id,
                "type": topic.type,
                "version": topic.version,
                "condition": condition,
            },
            queue=self.queue,
        )

    # -- the stream -----------------------------------------------------------------
    def ensure_group(self) -> None:
        try:
            self.client.xgroup_create(self.keys.control_requests(), GROUP, id="0", mkstream=True)
        except redis.ResponseError as error:
            if not str(error).startswith("BUSYGROUP"):
                raise

    def _answer(self, stream_id: str, fields: Mapping[str, str]) -> None:
        request_id, answer = self.handle(fields)
        with self.client.pipeline(transaction=True) as pipe:
            if request_id:
                reply_key = self.keys.control_reply(request_id)
                pipe.lpush(reply_key, answer)
                pipe.expire(reply_key, self.reply_ttl)
            pipe.xack(self.keys.control_requests(), GROUP, stream_id)
            pipe.execute()
        self.handled += 1

    def run_once(self) -> int:
        """Take back requests a dead worker held, then serve new ones; how many were served."""
        stream = self.keys.control_requests()
        _, claimed, *_ = self.client.xautoclaim(
            stream, GROUP, self.consumer, self.min_idle_ms, count=100
        )
        batch = [(stream_id, fields) for stream_id, fields in entries(claimed) if fields]
        reply_ = self.client.xreadgroup(
            GROUP, self.consumer, {stream: ">"}, count=100, block=self.block_ms
        )
        for _stream, rows in streams(reply_):
            batch.extend(rows)
        for stream_id, fields in batch:
            self._answer(stream_id, fields)
        return len(batch)

    def beat(self) -> None:
        self.client.set(
            self.keys.heartbeat(f"control:{self.consumer}"),
            f"{time.time():.3f}",
            px=self.heartbeat_ttl_ms,
        )

    def run(self, stop: threading.Event) -> None:
        """Serve until ``stop`` is set; what ``is_retryable`` calls retryable (a Redis outage)
        is waited out with backoff."""
        delays = backoff(0.1, 5.0)
        self.ensure_group()
        while not stop.is_set():
            try:
                self.beat()
                self.run_once()
                delays = backoff(0.1, 5.0)
            except redis.ResponseError as error:
                if not str(error).startswith("NOGROUP"):
                    raise
                self.ensure_group()
            except Exception as error:
                if not is_retryable(error):
                    raise
                delay = next(delays)
                log.warning("unavailable (%s); retrying in %.1fs", error, delay)
                stop.wait(delay)
