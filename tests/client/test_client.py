"""HubEventSubClient against a real Redis: delivery, ack, retry, reclaim, restart, kinds."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from dataclasses import replace

import pytest
import redis

from kiss.client import (
    ChannelEvent,
    ClientError,
    ControlPlaneTimeout,
    GapEvent,
    HubConnection,
    HubEventSubClient,
    NotificationEvent,
    RevocationEvent,
)
from kiss.client.rows import entries
from kiss.errors import InvalidCondition, UnknownTopic
from kiss.keys import Keys
from tests.client.conftest import FAST, add_entries, entry
from tests.waiting import wait_for_async as wait_for


def make_client(
    redis_url: str, keys: Keys, channel: str = "100", bot: str = "kissbot"
) -> HubEventSubClient:
    return HubEventSubClient(
        channel, f"chan{channel}", redis_url, keys=keys, options=FAST, bot=bot, start="beginning"
    )


def pending_count(redis_client: redis.Redis, keys: Keys, channel: str, bot: str = "kissbot") -> int:
    summary = redis_client.xpending(keys.channel_stream(channel), keys.bot_group(bot))
    return int(summary["pending"])


async def test_delivers_in_order_and_acknowledges(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    client = make_client(redis_url, keys)
    seen: list[NotificationEvent] = []

    @client.on("stream.online")
    async def online(event: NotificationEvent) -> None:
        seen.append(event)

    add_entries(redis_client, keys, "100", 5)
    await client.start()
    try:
        await wait_for(lambda: len(seen) == 5, what="5 events")
        assert [e.event["n"] for e in seen] == [0, 1, 2, 3, 4]
        first = seen[0]
        assert isinstance(first, NotificationEvent)
        assert (first.type, first.version, first.channel_id) == ("stream.online", "1", "100")
        assert first.delivery_count == 1 and not first.redelivered
        assert first.message_id and first.stream_id
        await wait_for(lambda: pending_count(redis_client, keys, "100") == 0, what="all acked")
    finally:
        await client.stop()
    # A consumer that holds nothing is forgotten, so groups do not collect dead names.
    assert redis_client.xinfo_consumers(keys.channel_stream("100"), "bot:kissbot") == []


async def test_a_failing_handler_leaves_the_entry_pending_and_gets_it_again(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    client = make_client(redis_url, keys)
    deliveries: list[int] = []

    @client.on("stream.online")
    def flaky(event: NotificationEvent) -> None:  # a plain function works too
        deliveries.append(event.delivery_count)
        if len(deliveries) == 1:
            raise RuntimeError("boom")

    add_entries(redis_client, keys, "100", 1)
    await client.start()
    try:
        await wait_for(lambda: len(deliveries) == 2, what="a second delivery")
        assert deliveries == [1, 2]
        assert client.failed == 1
        await wait_for(lambda: pending_count(redis_client, keys, "100") == 0, what="acked")
    finally:
        await client.stop()


async def test_past_the_delivery_bound_an_entry_goes_to_the_dead_letters(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    client = make_client(redis_url, keys)
    calls: list[str] = []

    @client.on("stream.online")
    async def always_fails(event: NotificationEvent) -> None:
        calls.append(event.stream_id)
        raise ValueError("cannot handle")

    (stream_id,) = add_entries(redis_client, keys, "100", 1)
    await client.start()
    try:
        dead_key = keys.bot_dead_letters("100", "kissbot")
        await wait_for(lambda: redis_client.xlen(dead_key) == 1, what="one dead letter")
        assert calls == [stream_id] * FAST.max_deliveries
        assert pending_count(redis_client, keys, "100") == 0
        [(_, fields)] = await client.dead_letters()
        assert fields["origin_id"] == stream_id
        assert fields["deliveries"] == str(FAST.max_deliveries)
        assert fields["kind"] == "notification"
    finally:
        await client.stop()


async def test_entries_of_a_crashed_consumer_are_reclaimed(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    stream = keys.channel_stream("100")
    group = keys.bot_group("kissbot")
    redis_client.xgroup_create(stream, group, id="0", mkstream=True)
    ids = add_entries(redis_client, keys, "100", 3)
    # A consumer that read the entries and died before acknowledging them.
    redis_client.xreadgroup(group, "dead-consumer", {stream: ">"}, count=10)

    client = make_client(redis_url, keys)
    seen: list[ChannelEvent] = []
    client.on("*")(seen.append)
    await client.start()
    try:
        await wait_for(lambda: len(seen) == 3, what="3 reclaimed entries")
        assert sorted(e.stream_id for e in seen) == ids
        assert all(e.delivery_count == 2 for e in seen)
        await wait_for(lambda: pending_count(redis_client, keys, "100") == 0, what="acked")
    finally:
        await client.stop()


async def test_a_restarted_bot_gets_what_it_missed_in_order(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    seen: list[int] = []

    def build() -> HubEventSubClient:
        client = make_client(redis_url, keys)
        client.on("stream.online")(lambda e: seen.append(e.event["n"]))
        return client

    first = build()
    await first.start()
    add_entries(redis_client, keys, "100", 3)
    await wait_for(lambda: len(seen) == 3, what="first batch")
    await first.stop()

    # Downtime: 50 entries arrive while no consumer runs.
    stream = keys.channel_stream("100")
    for n in range(3, 53):
        redis_client.xadd(stream, entry("100", event={"n": n}))
    second = build()
    await second.start()
    try:
        await wait_for(lambda: len(seen) == 53, what="everything missed")
        assert seen == list(range(53))
    finally:
        await second.stop()


async def test_a_new_bot_gets_what_the_stream_retains(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    add_entries(redis_client, keys, "100", 4)
    client = make_client(redis_url, keys, bot="newcomer")
    seen: list[int] = []
    client.on("stream.online")(lambda e: seen.append(e.event["n"]))
    await client.start()
    try:
        await wait_for(lambda: seen == [0, 1, 2, 3], what="retained entries")
    finally:
        await client.stop()


async def test_gap_and_revocation_arrive_as_their_own_types(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    client = make_client(redis_url, keys)
    gaps: list[GapEvent] = []
    revocations: list[RevocationEvent] = []
    notifications: list[NotificationEvent] = []
    client.on_gap(gaps.append)
    client.on_revocation(revocations.append)
    client.on("*")(notifications.append)
    stream = keys.channel_stream("100")
    redis_client.xadd(
        stream,
        entry("100", kind="gap", type_="", event={"from": 10.5, "to": 12.0, "reason": "4006"}),
    )
    redis_client.xadd(
        stream,
        entry(
            "100",
            kind="revocation",
            type_="channel.follow",
            version="2",
            event={"status": "authorization_revoked"},
        ),
    )
    await client.start()
    try:
        await wait_for(lambda: len(gaps) == 1 and len(revocations) == 1, what="gap+revocation")
        assert (gaps[0].gap_from, gaps[0].gap_to, gaps[0].reason) == (10.5, 12.0, "4006")
        assert revocations[0].reason == "authorization_revoked"
        assert revocations[0].type == "channel.follow"
        assert notifications == []
    finally:
        await client.stop()


async def test_events_iterator_acknowledges_when_asked_for_the_next(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    client = make_client(redis_url, keys)
    add_entries(redis_client, keys, "100", 3)
    await client.start()
    try:
        seen = []
        async for event in client.events():
            seen.append(event.event["n"])
            if len(seen) == 3:
                client.ack(event)
                break
        assert seen == [0, 1, 2]
        await wait_for(lambda: pending_count(redis_client, keys, "100") == 0, what="acked")
    finally:
        await client.stop()


async def test_events_iterator_leaves_a_failed_event_pending(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    client = make_client(redis_url, keys)
    add_entries(redis_client, keys, "100", 1)
    await client.start()
    try:
        events = client.events()
        with pytest.raises(RuntimeError):
            async for _event in events:
                raise RuntimeError("handler bug")
        await events.aclose()
        again = await anext(client.events())
        assert again.delivery_count == 2
    finally:
        await client.stop()


async def test_handlers_and_iterator_do_not_mix(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    client = make_client(redis_url, keys)
    client.on("stream.online")(lambda e: None)
    with pytest.raises(ClientError, match="before events"):
        await anext(client.events())
    await client.start()
    try:
        with pytest.raises(ClientError, match="either handlers or events"):
            await anext(client.events())
    finally:
        await client.stop()
    iterating = make_client(redis_url, keys, channel="101")
    await iterating.start()
    try:
        add_entries(redis_client, keys, "101", 1)
        await anext(iterating.events())
        with pytest.raises(ClientError, match="use handlers or events"):
            iterating.on("stream.offline")(lambda e: None)
    finally:
        await iterating.stop()


async def test_unknown_topic_handler_is_refused_at_once(redis_url: str, keys: Keys) -> None:
    client = make_client(redis_url, keys)
    with pytest.raises(UnknownTopic, match=r"stream\.onlien"):
        client.on("stream.onlien")


async def test_subscribe_validates_before_any_io(redis_url: str, keys: Keys) -> None:
    client = make_client(redis_url, keys)
    with pytest.raises(UnknownTopic, match=r"channel\.folow"):
        await client.subscribe("channel.folow")
    with pytest.raises(UnknownTopic, match="version 1 was removed"):
        await client.subscribe("channel.follow", "1")
    with pytest.raises(InvalidCondition, match="user_id"):  # which account reads the chat
        await client.subscribe("channel.chat.message")
    with pytest.raises(InvalidCondition, match="unknown condition field"):
        await client.subscribe("stream.online", condition={"colour": "red"})
    await client.connection.close()


async def test_presence_shows_the_bot_and_its_backlog(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    client = make_client(redis_url, keys)
    release = asyncio.Event()

    @client.on("stream.online")
    async def slow(event: NotificationEvent) -> None:
        await release.wait()

    add_entries(redis_client, keys, "100", 4)
    await client.start()
    key = keys.bot_presence("100", "kissbot")
    try:
        await wait_for(
            lambda: redis_client.hget(key, "pending") not in (None, "0"), what="pending shown"
        )
        card = redis_client.hgetall(key)
        assert card["channel_name"] == "chan100"
        assert card["state"] == "running"
        assert float(card["last_seen"]) >= float(card["started_at"])
        assert 0 < redis_client.ttl(key) <= FAST.presence_ttl
        release.set()
        await wait_for(lambda: redis_client.hget(key, "pending") == "0", what="drained")
        assert redis_client.hget(key, "lag") == "0"
    finally:
        await client.stop()
    assert redis_client.hget(key, "state") == "stopped"


async def test_a_hello_request_announces_the_bot(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    client = make_client(redis_url, keys)
    await client.start()
    await client.stop()
    [(_, fields)] = entries(redis_client.xrange(keys.control_requests()))
    assert (fields["op"], fields["bot"], fields["channel_id"]) == ("hello", "kissbot", "100")
    assert fields["channel_name"] == "chan100"


async def test_a_thousand_bots_share_a_few_connections(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    options = replace(
        FAST,
        streams_per_reader=250,
        presence_interval=1.0,
        reclaim_interval=1.0,
        instance=f"thousand-{keys.prefix}",
    )
    connection = HubConnection(redis_url, keys=keys, options=options)
    counts: Counter[str] = Counter()
    clients = []
    for n in range(1000):
        client = HubEventSubClient(str(n), f"c{n}", keys=keys, connection=connection, bot="k")
        client.on("stream.online")(lambda e: counts.update([e.channel_id]))
        clients.append(client)
    await asyncio.gather(*(c.start() for c in clients))
    try:
        pipe = redis_client.pipeline(transaction=False)
        for n in range(1000):
            for _ in range(3):
                pipe.xadd(keys.channel_stream(str(n)), entry(str(n)))
        pipe.execute()
        await wait_for(
            lambda: len(counts) == 1000 and all(v == 3 for v in counts.values()),
            within=60,
            what="3 events for each of 1000 bots",
        )
        # Four readers of 250 streams (a connection each) and the shared pool, not a
        # thousand blocked connections.
        readers = sum(len(r) for r in connection._readers.values())
        assert readers == 4
        names = [c["name"] for c in redis_client.client_list()]
        assert readers < names.count(f"kiss-bot:{options.instance}") <= 32 + readers
    finally:
        await asyncio.gather(*(c.stop() for c in clients))
        await connection.close()


def test_importable_without_celery_or_sqlalchemy() -> None:
    code = (
        "import sys, kiss.client; "
        "assert 'celery' not in sys.modules, 'celery'; "
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


async def test_a_stopped_consumer_holding_entries_is_kept_for_a_reclaim(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    client = make_client(redis_url, keys)
    started = asyncio.Event()

    @client.on("stream.online")
    async def never_finishes(event: NotificationEvent) -> None:
        started.set()
        await asyncio.Event().wait()

    add_entries(redis_client, keys, "100", 1)
    await client.start()
    await asyncio.wait_for(started.wait(), 10)
    await client.stop()
    [consumer] = redis_client.xinfo_consumers(keys.channel_stream("100"), "bot:kissbot")
    assert consumer["pending"] == 1


async def test_rewind_delivers_again_to_the_handlers(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    client = make_client(redis_url, keys)
    seen: list[int] = []
    client.on("stream.online")(lambda e: seen.append(e.event["n"]))
    ids = add_entries(redis_client, keys, "100", 3)
    await client.start()
    try:
        await wait_for(lambda: seen == [0, 1, 2], what="first pass")
        assert [e.event["n"] async for e in client.replay(ids[1])] == [1, 2]
        await client.rewind(ids[1])
        await wait_for(lambda: seen == [0, 1, 2, 1, 2], what="second pass from ids[1]")
    finally:
        await client.stop()


async def test_a_shared_connection_owns_keys_and_options(redis_url: str, keys: Keys) -> None:
    connection = HubConnection(redis_url, keys=keys, options=FAST)
    try:
        with pytest.raises(ClientError, match="give keys and options to it"):
            HubEventSubClient("1", "one", options=FAST, connection=connection, bot="b")
        with pytest.raises(ClientError, match="give keys and options to it"):
            HubEventSubClient("1", "one", keys=Keys("other"), connection=connection, bot="b")
        assert HubEventSubClient("1", "one", keys=keys, connection=connection, bot="b").keys == keys
    finally:
        await connection.close()


@pytest.mark.parametrize(
    ("bot", "problem"),
    [(None, "needs bot='<name>'"), ("", "needs bot="), ("two words", "bot name 'two words'")],
)
def test_a_bot_name_is_required_and_checked(bot: str | None, problem: str) -> None:
    with pytest.raises(ClientError, match=problem):
        HubEventSubClient("1", "one", bot=bot)


async def test_a_new_bot_starts_from_now_by_default(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    add_entries(redis_client, keys, "100", 3)  # old news for this bot
    client = HubEventSubClient("100", "chan100", redis_url, keys=keys, options=FAST, bot="new")
    seen: list[int] = []
    client.on("stream.online")(lambda e: seen.append(e.event["n"]))
    await client.start()
    try:
        redis_client.xadd(keys.channel_stream("100"), entry("100", event={"n": 99}))
        await wait_for(lambda: seen == [99], what="only the entry after start")
    finally:
        await client.stop()


async def test_a_new_bot_starts_from_a_time(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    ids = add_entries(redis_client, keys, "100", 4)
    from_ms = int(ids[2].split("-")[0])
    client = HubEventSubClient(
        "100", "c", redis_url, keys=keys, options=FAST, bot="later", start=from_ms / 1000
    )
    seen: list[str] = []
    client.on("stream.online")(lambda e: seen.append(e.stream_id))
    await client.start()
    try:
        expected = [i for i in ids if int(i.split("-")[0]) >= from_ms]
        await wait_for(lambda: seen == expected, what="the entries from that time on")
    finally:
        await client.stop()
    with pytest.raises(ValueError, match="start must be 'now', 'beginning' or a time"):
        HubEventSubClient("100", "c", bot="x", start="yesterday")  # type: ignore[arg-type]


async def test_a_type_no_handler_takes_is_logged_once_per_type(
    redis_url: str, redis_client: redis.Redis, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(redis_url, keys)
    seen: list[str] = []
    client.on("stream.online")(lambda e: seen.append(e.type))
    stream = keys.channel_stream("100")
    for type_ in ("channel.ban", "channel.ban", "stream.offline", "stream.online"):
        redis_client.xadd(stream, entry("100", type_=type_))
    await client.start()
    try:
        await wait_for(lambda: seen == ["stream.online"], what="the handled one")
        await wait_for(lambda: pending_count(redis_client, keys, "100") == 0, what="all acked")
    finally:
        await client.stop()
    unhandled = [r.getMessage() for r in caplog.records if "no handler takes" in r.getMessage()]
    assert len(unhandled) == 2
    assert (
        "notification channel.ban" in unhandled[0] and "@client.on('channel.ban')" in unhandled[0]
    )
    assert "notification stream.offline" in unhandled[1]


async def test_listen_subscribes_and_handles_in_one_call(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    client = make_client(redis_url, keys, channel="102")
    await client.start()
    seen: list[str] = []
    try:
        listening = asyncio.create_task(
            client.listen("stream.online", lambda e: seen.append(e.message_id), wait_seconds=5)
        )

        # The control plane's part: accept the request it finds.
        def accepted() -> bool:
            for _, fields in entries(redis_client.xrange(keys.control_requests())):
                if fields["op"] == "subscribe":
                    assert (fields["type"], fields["channel_id"]) == ("stream.online", "102")
                    reply = keys.control_reply(fields["request_id"])
                    redis_client.lpush(reply, '{"ok": true, "error": null}')
                    return True
            return False

        await wait_for(accepted, what="a subscribe request")
        pending = await listening
        assert (pending.type, pending.condition) == (
            "stream.online",
            {"broadcaster_user_id": "102"},
        )
        redis_client.xadd(keys.channel_stream("102"), entry("102", message_id="m1"))
        await wait_for(lambda: seen == ["m1"], what="the handler, registered after start()")
    finally:
        await client.stop()


async def test_a_refused_listen_takes_its_handler_back(redis_url: str, keys: Keys) -> None:
    client = make_client(redis_url, keys)
    try:
        with pytest.raises(ControlPlaneTimeout):
            await client.listen("stream.online", lambda e: None, wait_seconds=0.05)
        assert client._handlers["stream.online"] == []
    finally:
        await client.stop()
