"""Taking back entries left pending: by a crashed consumer, or by a handler that raised.

``plan`` (pure) splits the idle pending entries of a stream into those to claim and
deliver again, and those past the delivery bound, which go to the dead letters.
``reclaim_once`` does it for many inboxes with two pipelined round trips.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from kiss.client.dead_letters import add_dead_letter
from kiss.client.errors import MalformedEntry
from kiss.client.events import parse_entry
from kiss.client.inbox import Inbox
from kiss.client.options import ClientOptions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReclaimPlan:
    claim: dict[str, int] = field(default_factory=dict)  # stream id -> deliveries so far
    dead: dict[str, int] = field(default_factory=dict)


def plan(
    pending: Iterable[Mapping[str, Any]], in_flight: set[str], max_deliveries: int
) -> ReclaimPlan:
    """Rows of ``XPENDING ... IDLE`` -> what to claim and what to dead-letter.

    Entries this process still holds are skipped: they are slow, not lost.
    """
    result = ReclaimPlan()
    for row in pending:
        stream_id = str(row["message_id"])
        if stream_id in in_flight:
            continue
        deliveries = int(row["times_delivered"])
        target = result.dead if deliveries >= max_deliveries else result.claim
        target[stream_id] = deliveries
    return result


@dataclass
class ReclaimReport:
    claimed: int = 0
    dead: int = 0


async def reclaim_once(
    redis: aioredis.Redis, inboxes: Sequence[Inbox], options: ClientOptions
) -> ReclaimReport:
    """Claim for each inbox's consumer what stayed idle in its group, dead-letter what is
    past the delivery bound."""
    plans = await _plans(redis, inboxes, options)
    if not plans:
        return ReclaimReport()
    # XCLAIM with the same min idle time: if another consumer of this bot claimed an
    # entry meanwhile, its idle time was reset and we do not get it.
    async with redis.pipeline(transaction=False) as pipe:
        for inbox, todo in plans:
            ids = [*todo.claim, *todo.dead]
            pipe.xclaim(
                inbox.stream, inbox.group, inbox.consumer, options.min_idle_ms, list[Any](ids)
            )
        claimed = await pipe.execute(raise_on_error=False)
    report = ReclaimReport()
    async with redis.pipeline(transaction=False) as pipe:
        for (inbox, todo), entries in zip(plans, claimed, strict=True):
            if not isinstance(entries, Exception):
                _settle_claimed(pipe, inbox, todo, entries, options, report)
        await pipe.execute()
    if report.dead:
        log.warning(
            "moved %d entries to dead letters after %d deliveries",
            report.dead,
            options.max_deliveries,
        )
    return report


async def _plans(
    redis: aioredis.Redis, inboxes: Sequence[Inbox], options: ClientOptions
) -> list[tuple[Inbox, ReclaimPlan]]:
    if not inboxes:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for inbox in inboxes:
            pipe.xpending_range(
                inbox.stream,
                inbox.group,
                "-",
                "+",
                options.reclaim_count,
                idle=options.min_idle_ms,
            )
        pendings = await pipe.execute(raise_on_error=False)
    plans = []
    for inbox, pending in zip(inboxes, pendings, strict=True):
        if isinstance(pending, Exception) or not pending:
            continue  # NOGROUP after a Redis loss: the reader recreates the group
        todo = plan(pending, inbox.in_flight, options.max_deliveries)
        if todo.claim or todo.dead:
            plans.append((inbox, todo))
    return plans


def _settle_claimed(
    pipe: Any,
    inbox: Inbox,
    todo: ReclaimPlan,
    entries: Sequence[tuple[str, Mapping[str, str] | None]],
    options: ClientOptions,
    report: ReclaimReport,
) -> None:
    """Deliver the claimed entries again, or dead-letter those past the bound."""
    for stream_id, fields in entries:
        if fields is None:
            continue  # trimmed away while pending
        if stream_id in todo.dead:
            report.dead += 1
            deliveries = todo.dead[stream_id]
            add_dead_letter(
                pipe,
                inbox,
                stream_id,
                fields,
                deliveries=deliveries,
                reason=f"handler failed {deliveries} times",
                maxlen=options.dead_letter_maxlen,
            )
            continue
        report.claimed += 1
        try:
            inbox.put(parse_entry(stream_id, fields, todo.claim[stream_id] + 1))
        except MalformedEntry as error:
            add_dead_letter(
                pipe,
                inbox,
                stream_id,
                fields,
                deliveries=todo.claim[stream_id],
                reason=str(error),
                maxlen=options.dead_letter_maxlen,
            )
