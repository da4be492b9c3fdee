"""The example bot: one line per event, subscriptions asked, and the `kiss bot` process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
import redis

from kiss.client import HubEventSubClient
from kiss.client.events import parse_entry
from kiss.client.rows import entries, fields_arg, streams
from kiss.keys import Keys
from tests.client.conftest import FAST, entry
from tests.waiting import wait_for_async as wait_for
from workers.bot import ExampleBot, condition_for, describe


def line(
    kind: str = "notification",
    type_: str = "stream.online",
    event: object = None,
    delivery: int = 1,
) -> str:
    fields = entry("42", kind=kind, type_=type_, event=event)
    return describe(parse_entry("170-1", fields, delivery))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            {"event": {"broadcaster_user_name": "Serda", "type": "live"}},
            "#42 [170-1] stream.online: Serda went live (live)",
        ),
        (
            {"type_": "channel.follow", "event": {"user_name": "Fan", "user_id": "7"}},
            "#42 [170-1] channel.follow: Fan followed",
        ),
        (
            {"type_": "channel.update", "event": {"title": "Hi", "category_name": "Chess"}},
            "#42 [170-1] channel.update: title 'Hi', category 'Chess'",
        ),
        (
            {"type_": "channel.ban", "event": {"user_id": "9"}, "delivery": 3},
            '#42 [170-1] channel.ban: {"user_id":"9"} (delivery 3)',
        ),
        (
            {"kind": "gap", "type_": "", "event": {"from": 1.5, "to": 4.0, "reason": "4006"}},
            "#42 [170-1] GAP: events between 1.5 and 4.0 may be missing (4006)",
        ),
        (
            {
                "kind": "revocation",
                "type_": "channel.follow",
                "event": {"status": "authorization_revoked"},
            },
            "#42 [170-1] REVOKED channel.follow v1: authorization_revoked",
        ),
    ],
)
def test_describe(args: dict[str, object], expected: str) -> None:
    assert line(**args) == expected  # type: ignore[arg-type]


def test_condition_for_moderator_topics() -> None:
    assert condition_for("channel.follow", "5") == {
        "broadcaster_user_id": "5",
        "moderator_user_id": "5",
    }
    assert condition_for("stream.online", "5") == {}


@pytest.fixture
async def control_stand_in(
    redis_client: redis.Redis, keys: Keys
) -> AsyncIterator[list[dict[str, str]]]:
    """Stands in for workers/control.py and the reconciler: accepts, then reports active."""
    seen: list[dict[str, str]] = []

    async def serve() -> None:
        position = "0"
        while True:
            reply = await asyncio.to_thread(
                redis_client.xread, {keys.control_requests(): position}, block=50
            )
            for _stream, rows in streams(reply):
                for stream_id, fields in rows:
                    position = stream_id
                    seen.append(fields)
                    if fields["op"] == "hello":
                        continue
                    redis_client.lpush(
                        keys.control_reply(fields["request_id"]),
                        orjson.dumps({"ok": True, "error": None}),
                    )
                    redis_client.xadd(
                        keys.subscription_outcomes(fields["channel_id"]),
                        fields_arg(
                            {
                                "type": fields["type"],
                                "version": fields["version"],
                                "status": "active",
                                "reason": "",
                                "subscription_id": f"sub-{fields['type']}",
                            }
                        ),
                    )

    task = asyncio.create_task(serve())
    yield seen
    task.cancel()


async def test_the_bot_subscribes_and_logs_each_event(
    redis_url: str,
    redis_client: redis.Redis,
    keys: Keys,
    control_stand_in: list[dict[str, str]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO", logger="kiss.bot")
    client = HubEventSubClient("42", "answer", redis_url, keys=keys, options=FAST, bot="b")
    example = ExampleBot(client, ("stream.online", "channel.follow"), outcome_seconds=5)
    stop = asyncio.Event()
    running = asyncio.create_task(example.run(stop))
    try:
        await wait_for(lambda: "channel.follow is active" in caplog.text, what="outcome logged")
        assert "stream.online is active (sub-stream.online)" in caplog.text
        asked = [r for r in control_stand_in if r["op"] == "subscribe"]
        assert sorted(r["type"] for r in asked) == ["channel.follow", "stream.online"]
        follow = next(r for r in asked if r["type"] == "channel.follow")
        assert orjson.loads(follow["condition"]) == {
            "broadcaster_user_id": "42",
            "moderator_user_id": "42",
        }
        redis_client.xadd(
            keys.channel_stream("42"),
            entry("42", type_="channel.follow", event={"user_name": "Fan"}),
        )
        await wait_for(lambda: any("Fan followed" in x for x in example.lines), what="event")
        assert "channel.follow: Fan followed" in caplog.text
    finally:
        stop.set()
        await running


async def test_without_a_control_plane_the_bot_still_consumes_and_asks_again(
    redis_url: str, redis_client: redis.Redis, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    client = HubEventSubClient(
        "42",
        "answer",
        redis_url,
        keys=keys,
        options=FAST,
        control_timeout=0.1,
        bot="b",
        start="beginning",
    )
    example = ExampleBot(client, ("stream.online",), retry_max=0.2)
    stop = asyncio.Event()
    running = asyncio.create_task(example.run(stop))
    try:
        redis_client.xadd(keys.channel_stream("42"), entry("42", event={"type": "live"}))
        await wait_for(lambda: len(example.lines) == 1, what="the event despite no control")

        def subscribe_requests() -> int:
            rows = entries(redis_client.xrange(keys.control_requests()))
            return sum(1 for _, f in rows if f["op"] == "subscribe")

        await wait_for(lambda: subscribe_requests() >= 2, what="asked again")
        assert "kiss control" in caplog.text
    finally:
        stop.set()
        await running
