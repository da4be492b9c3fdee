"""A bot's start on a stream: its own pending entries first, then those of dead consumers.

A process's consumer name stays the same across restarts (``bot@instance``), so a process
killed with entries in hand finds them again at its next start, in stream order, before
anything newer: for a bot with one process per channel, a kill -9 loses nothing and puts
nothing out of order (entries handled but not yet acknowledged come again, as redeliveries).
Then the idle entries of other consumers of the same bot (a process that died for good) are
claimed, and only then does the shared reader read new entries (``>``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis.asyncio as aioredis

from kiss.client.dead_letters import add_dead_letter
from kiss.client.errors import MalformedEntry
from kiss.client.events import parse_entry
from kiss.client.inbox import Inbox
from kiss.client.options import ClientOptions
from kiss.client.reclaim import reclaim_once
from kiss.client.rows import streams

log = logging.getLogger(__name__)


@dataclass
class ResumeReport:
    own: int = 0  # own pending entries delivered again
    claimed: int = 0  # idle entries taken from other consumers of the bot
    dead: int = 0  # entries past the delivery bound, or malformed, moved to the dead letters


async def resume(redis: aioredis.Redis, inbox: Inbox, options: ClientOptions) -> ResumeReport:
    """Put the inbox's consumer's pending entries, then the claimable ones, into the inbox."""
    report = ResumeReport()
    after = "0"
    while True:
        reply = streams(
            await redis.xreadgroup(
                inbox.group, inbox.consumer, {inbox.stream: after}, count=options.count
            )
        )
        rows = reply[0][1] if reply else []
        if not rows:
            break
        after = rows[-1][0]
        deliveries = await _deliveries(redis, inbox, rows[0][0], after, len(rows))
        async with redis.pipeline(transaction=False) as pipe:
            for stream_id, fields in rows:
                if not fields:  # deleted or trimmed while pending: nothing to deliver
                    pipe.xack(inbox.stream, inbox.group, stream_id)
                    continue
                count = deliveries.get(stream_id, 2)
                past_bound = count > options.max_deliveries
                reason = f"handler failed {count - 1} times" if past_bound else ""
                if not reason:
                    try:
                        inbox.put(parse_entry(stream_id, fields, count))
                        report.own += 1
                        continue
                    except MalformedEntry as error:
                        reason = str(error)
                report.dead += 1
                add_dead_letter(
                    pipe,
                    inbox,
                    stream_id,
                    fields,
                    deliveries=count - 1,
                    reason=reason,
                    maxlen=options.dead_letter_maxlen,
                )
            await pipe.execute()
    reclaimed = await reclaim_once(redis, [inbox], options)
    report.claimed, report.dead = reclaimed.claimed, report.dead + reclaimed.dead
    if report.own or report.claimed or report.dead:
        log.info(
            "%s on %s resumed: %d own pending, %d claimed, %d dead-lettered",
            inbox.consumer,
            inbox.stream,
            report.own,
            report.claimed,
            report.dead,
        )
    return report


async def _deliveries(
    redis: aioredis.Redis, inbox: Inbox, first: str, last: str, count: int
) -> dict[str, int]:
    """How many times each of these pending entries has been delivered, this read included."""
    rows = await redis.xpending_range(
        inbox.stream, inbox.group, first, last, count, consumername=inbox.consumer
    )
    return {str(row["message_id"]): int(row["times_delivered"]) for row in rows}
