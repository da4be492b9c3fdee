"""Dead letters: one field list whatever the cause."""

from __future__ import annotations

import redis
import redis.asyncio as aioredis

from kiss.client.dead_letters import DEAD_LETTER_FIELDS, dead_letter_fields, quarantine
from kiss.client.inbox import Inbox
from kiss.client.rows import entries
from kiss.keys import Keys
from tests.client.conftest import add_entries


def test_the_entry_keeps_its_fields_and_gains_the_dead_letter_ones() -> None:
    inbox = Inbox("s", "g", "dl", 1, consumer="c")
    fields = dead_letter_fields(inbox, "5-0", {"kind": "notification"}, 3, "why")
    assert fields == {
        "kind": "notification",
        "origin_id": "5-0",
        "origin_stream": "s",
        "deliveries": "3",
        "reason": "why",
    }
    assert tuple(fields)[1:] == DEAD_LETTER_FIELDS


async def test_quarantine_moves_and_acknowledges(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    stream = keys.channel_stream("1")
    inbox = Inbox(stream, "bot:b", keys.bot_dead_letters("1", "b"), 10, consumer="c")
    redis_client.xgroup_create(stream, "bot:b", id="0", mkstream=True)
    (stream_id,) = add_entries(redis_client, keys, "1", 1)
    redis_client.xreadgroup("bot:b", "c", {stream: ">"})
    await quarantine(aredis, inbox, stream_id, {"kind": "x"}, deliveries=1, reason="bad", maxlen=10)
    [(_, dead)] = entries(redis_client.xrange(inbox.dead_letters))
    assert set(DEAD_LETTER_FIELDS) <= set(dead) and dead["reason"] == "bad"
    assert redis_client.xpending(stream, "bot:b")["pending"] == 0
