"""Dead letters: an entry a bot cannot take goes to its dead-letter stream, acknowledged.

One field list for every cause (a malformed entry, a handler that kept failing): the
entry's own fields, then ``DEAD_LETTER_FIELDS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis

from kiss.client.inbox import Inbox
from kiss.client.rows import fields_arg

# origin_id / origin_stream: where the entry was; deliveries: how often a handler had it;
# reason: why it is here.
DEAD_LETTER_FIELDS = ("origin_id", "origin_stream", "deliveries", "reason")


def dead_letter_fields(
    inbox: Inbox, stream_id: str, fields: Mapping[str, str], deliveries: int, reason: str
) -> dict[str, str]:
    extra = (stream_id, inbox.stream, str(deliveries), reason)
    return {**fields, **dict(zip(DEAD_LETTER_FIELDS, extra, strict=True))}


def add_dead_letter(
    pipe: Any,
    inbox: Inbox,
    stream_id: str,
    fields: Mapping[str, str],
    *,
    deliveries: int,
    reason: str,
    maxlen: int,
) -> None:
    """Queue on ``pipe``: the entry to the dead letters, then its acknowledgement."""
    pipe.xadd(
        inbox.dead_letters,
        fields_arg(dead_letter_fields(inbox, stream_id, fields, deliveries, reason)),
        maxlen=maxlen,
        approximate=True,
    )
    pipe.xack(inbox.stream, inbox.group, stream_id)


async def quarantine(
    redis: aioredis.Redis,
    inbox: Inbox,
    stream_id: str,
    fields: Mapping[str, str],
    *,
    deliveries: int,
    reason: str,
    maxlen: int,
) -> None:
    """Dead-letter one entry now, atomically with its acknowledgement."""
    async with redis.pipeline(transaction=True) as pipe:
        add_dead_letter(
            pipe, inbox, stream_id, fields, deliveries=deliveries, reason=reason, maxlen=maxlen
        )
        await pipe.execute()
