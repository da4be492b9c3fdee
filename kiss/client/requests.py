"""Bot -> control plane requests (hello, subscribe, unsubscribe) and their outcomes, over Redis.

A request is an entry on ``Keys.control_requests()``; workers/control.py answers on
``Keys.control_reply(request_id)``. What Twitch made of a subscription arrives later on
``Keys.subscription_outcomes(channel_id)``. The fields, ops, replies and statuses are the
contract of ``kiss/contracts/bot_requests.py``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from kiss.client.errors import ControlPlaneTimeout, OutcomeTimeout, SubscriptionRejected
from kiss.client.rows import entries, fields_arg, streams
from kiss.contracts.bot_requests import ACTIVE, decode_outcome, decode_reply
from kiss.keys import Keys

REQUESTS_MAXLEN = 100_000
# Blocking calls are cut in slices shorter than the socket timeout of the pool.
_SLICE_SECONDS = 5.0


@dataclass(frozen=True)
class SubscriptionOutcome:
    type: str
    version: str
    status: str  # one of kiss.contracts.bot_requests.STATUSES
    reason: str
    subscription_id: str
    stream_id: str

    @property
    def active(self) -> bool:
        return self.status == ACTIVE


async def send_request(
    redis: aioredis.Redis, keys: Keys, fields: Mapping[str, str], *, wait_seconds: float | None
) -> None:
    """Queue a request; with a timeout, wait for the answer and raise if it is a refusal."""
    await redis.xadd(
        keys.control_requests(), fields_arg(fields), maxlen=REQUESTS_MAXLEN, approximate=True
    )
    if wait_seconds is None:
        return
    reply_key = keys.control_reply(fields["request_id"])
    deadline = time.monotonic() + wait_seconds
    while (left := deadline - time.monotonic()) > 0:
        reply = await redis.blpop([reply_key], timeout=min(left, _SLICE_SECONDS))
        if reply is not None:
            answer = decode_reply(reply[1])
            if not answer.ok:
                raise SubscriptionRejected(answer.error)
            return
    raise ControlPlaneTimeout(
        f"{fields['op']} {fields['type']}: no answer from the control plane in {wait_seconds:g}s "
        "(is `kiss control` running?)"
    )


def new_request_id() -> str:
    return uuid.uuid4().hex


async def last_outcome_id(redis: aioredis.Redis, keys: Keys, channel_id: str) -> str:
    """Where outcomes stand now, so that a wait sees only what comes after a request."""
    last = entries(await redis.xrevrange(keys.subscription_outcomes(channel_id), count=1))
    return last[0][0] if last else "0-0"


def _outcome(stream_id: str, fields: Mapping[str, Any]) -> SubscriptionOutcome:
    return SubscriptionOutcome(*decode_outcome(fields), stream_id=stream_id)


async def wait_outcome(
    redis: aioredis.Redis,
    keys: Keys,
    channel_id: str,
    type: str,
    version: str,
    *,
    after_id: str,
    statuses: Collection[str],
    wait_seconds: float,
) -> SubscriptionOutcome:
    """The first outcome for type+version after ``after_id`` whose status is in ``statuses``."""
    stream = keys.subscription_outcomes(channel_id)
    position = after_id
    deadline = time.monotonic() + wait_seconds
    while (left := deadline - time.monotonic()) > 0:
        block_ms = max(1, int(min(left, _SLICE_SECONDS) * 1000))
        reply = await redis.xread({stream: position}, count=100, block=block_ms)
        for _stream, rows in streams(reply):
            for stream_id, fields in rows:
                position = stream_id
                outcome = _outcome(stream_id, fields)
                if (outcome.type, outcome.version) == (type, version) and (
                    outcome.status in statuses
                ):
                    return outcome
    raise OutcomeTimeout(
        f"{type} v{version} on channel {channel_id}: no outcome in {wait_seconds:g}s "
        "(is the Celery worker running?)"
    )
