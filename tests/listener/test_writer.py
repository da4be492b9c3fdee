from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import orjson
import pytest
import redis
import redis.asyncio as aioredis

from kiss.client.events import entry_fields, parse_entry
from kiss.contracts.stream_entry import FIELDS, KINDS, Entry, decode
from kiss.eventsub.messages import NotificationDecoder
from kiss.eventsub.session import Gap
from kiss.keys import Keys
from kiss.listener.entries import EntryBuilder, gap_entry, notification_entry, revocation_entry
from kiss.listener.writer import COUNTER_OF_KIND, StreamWriter, WriterConfig
from tests.listener.helpers import notification, notification_frame, revocation
from tests.listener.simulated import eventually
from tests.redis_server import PrivateRedis


@pytest.fixture
async def aredis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


def entry_of(keys: Keys, message_id: str, channel: str = "42", **kwargs: object) -> Entry:
    entry = notification_entry(keys, notification(message_id, channel, **kwargs), 1.0)
    assert entry is not None
    return entry


async def test_entries_land_on_their_channel_streams_in_one_flush(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    writer = StreamWriter(aredis, keys, "L1")
    for index in range(30):
        writer.add(entry_of(keys, f"m{index}", channel=str(index % 3)))
    assert await writer.flush() == 30
    assert writer.pending == 0
    for channel in ("0", "1", "2"):
        entries = redis_client.xrange(keys.channel_stream(channel)) or []
        assert len(entries) == 10
        assert all((fields or {})["channel_id"] == channel for _, fields in entries)
    assert redis_client.hget(keys.counters(), "events_routed") == "30"
    assert redis_client.hget(keys.listener_state("L1"), "events_routed") == "30"


async def test_the_script_writes_every_kind_as_the_client_decodes_it(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    # The Lua script names the fields itself: what it writes must be what the contract says.
    message = NotificationDecoder().decode(notification_frame("m-fast", "42"))
    assert message is not None
    fast = EntryBuilder(keys).entry(message, "1700000000.5")
    assert fast is not None  # the hot path's one-pass entry
    entries = [
        fast,
        entry_of(keys, "m-parsed", event={"user_id": "7", "text": "ünï 🎉"}),
        revocation_entry(keys, revocation("r1", "42", "authorization_revoked"), 2.25),
        gap_entry(keys, "42", Gap(10.0, 20.5, "4006 network error"), 1767225600.0),
    ]
    assert {entry.kind for entry in entries if entry is not None} == set(KINDS)
    writer = StreamWriter(aredis, keys, "L1")
    writer.extend([entry for entry in entries if entry is not None])
    assert await writer.flush() == len(entries)
    read = redis_client.xrange(keys.channel_stream("42"))
    written = cast("list[tuple[str, dict[str, str]]]", read)
    assert len(written) == len(entries)
    for entry, (stream_id, fields) in zip(entries, written, strict=True):
        assert entry is not None
        assert tuple(fields) == FIELDS
        assert fields == {name: value.decode() if isinstance(value, bytes) else value
                          for name, value in entry.fields().items()}  # fmt: skip
        event = parse_entry(stream_id, fields)
        assert (event.kind, event.stream_id) == (entry.kind, stream_id)
        assert event.event == orjson.loads(entry.event)
        assert decode(entry_fields(event)) == decode(fields)
    for kind, counter in COUNTER_OF_KIND.items():
        expected = sum(1 for entry in entries if entry is not None and entry.kind == kind)
        assert redis_client.hget(keys.counters(), counter) == str(expected)


async def test_each_event_is_written_whole_whatever_its_characters(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    # The events travel as one concatenated argument cut by byte lengths: a multi-byte
    # character, a duplicate skipped in between and an empty text must not shift the cuts.
    texts = ["plain", "emoji 🎉 and ünïcödé", "plain", "", "日本語のチャット", 'quote " and \\']
    writer = StreamWriter(aredis, keys, "L1")
    for index, text in enumerate(texts):
        writer.add(entry_of(keys, f"m{index}" if index != 2 else "m0", event={"text": text}))
    assert await writer.flush() == len(texts) - 1
    written = [fields or {} for _, fields in redis_client.xrange(keys.channel_stream("42")) or []]
    expected = [text for index, text in enumerate(texts) if index != 2]
    assert [orjson.loads(fields["event"])["text"] for fields in written] == expected


async def test_duplicates_across_writers_are_written_once(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    first, second = StreamWriter(aredis, keys, "L1"), StreamWriter(aredis, keys, "L2")
    first.add(entry_of(keys, "same"))
    await first.flush()
    second.add(entry_of(keys, "same"))
    second.add(entry_of(keys, "other"))
    assert await second.flush() == 1
    assert redis_client.xlen(keys.channel_stream("42")) == 2
    assert redis_client.hget(keys.counters(), "duplicates_dropped") == "1"
    assert second.stats.duplicates == 1


async def test_a_duplicate_in_the_same_batch_is_written_once_and_counted(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    writer = StreamWriter(aredis, keys, "L1")
    writer.add(entry_of(keys, "m"))
    writer.add(entry_of(keys, "m"))  # e.g. from both sockets of a handover
    assert await writer.flush() == 1
    assert redis_client.xlen(keys.channel_stream("42")) == 1
    assert redis_client.hget(keys.counters(), "duplicates_dropped") == "1"
    assert writer.stats.duplicates == 1


async def test_same_event_under_another_message_id_is_dropped(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    writer = StreamWriter(aredis, keys, "L1")
    for message_id in ("a", "b"):
        writer.add(
            entry_of(keys, message_id, type_="stream.online", version="1", event={"id": "E1"})
        )
    assert await writer.flush() == 1
    assert redis_client.xlen(keys.channel_stream("42")) == 1


async def test_run_flushes_in_the_background_and_close_drains(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    import asyncio

    written: list[Entry] = []
    writer = StreamWriter(aredis, keys, "L1", WriterConfig(batch_max=7), on_written=written.append)
    task = asyncio.create_task(writer.run())
    for index in range(50):
        writer.add(entry_of(keys, f"m{index}"))
    writer.add(revocation_entry(keys, revocation("r1"), 2.0))  # type: ignore[arg-type]
    await asyncio.wait_for(writer.drained(), 5)
    assert redis_client.xlen(keys.channel_stream("42")) == 51
    assert [e.kind for e in written].count("revocation") == 1
    writer.add(entry_of(keys, "late"))
    await writer.close()
    await asyncio.wait_for(task, 5)
    assert redis_client.xlen(keys.channel_stream("42")) == 52
    assert redis_client.hget(keys.counters(), "revocations") == "1"


async def test_streams_are_bounded_by_length(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    short = StreamWriter(aredis, keys, "L1", WriterConfig(maxlen=10, batch_max=1000))
    for index in range(600):
        short.add(entry_of(keys, f"m{index}", channel="1010"))
    await short.flush()
    assert redis_client.xlen(keys.channel_stream("1010")) < 600


async def test_slot_progress_and_channels_travel_with_the_entries(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    writer = StreamWriter(aredis, keys, "L1")
    progress: list[float | None] = [None]
    writer.track(keys.listener_slot("s"), lambda: progress[0])
    writer.add(entry_of(keys, "m1"))
    await writer.flush()
    assert not redis_client.exists(keys.listener_slot("s"))  # no message yet: nothing to write
    progress[0] = 123.5
    writer.add(entry_of(keys, "m2"))
    writer.remember(keys.listener_slot_channels("s"), "42")
    await writer.flush()
    assert redis_client.hget(keys.listener_slot("s"), "last_message_at") == "123.5"
    assert redis_client.smembers(keys.listener_slot_channels("s")) == {"42"}
    redis_client.hset(keys.listener_slot("s"), "last_message_at", "0")
    writer.add(entry_of(keys, "m3"))
    await writer.flush()  # unchanged since written: not written again
    assert redis_client.hget(keys.listener_slot("s"), "last_message_at") == "0"
    writer.untrack(keys.listener_slot("s"))
    progress[0] = 200.0
    writer.add(entry_of(keys, "m4"))
    await writer.flush()
    assert redis_client.hget(keys.listener_slot("s"), "last_message_at") == "0"


async def test_batches_in_flight_when_the_connection_drops_are_sent_again_and_land_once(
    private_redis: PrivateRedis, keys: Keys
) -> None:
    import asyncio

    # A Redis of the test's own: its clients are cut (never on the shared one).
    server = private_redis
    redis_client = redis.Redis.from_url(server.url, decode_responses=True)
    aredis = aioredis.Redis.from_url(server.url, decode_responses=True)
    count = 3000
    config = WriterConfig(
        batch_max=5, pipeline_depth=3, retry_delay_seconds=0.01, memory_entries=count
    )
    writer = StreamWriter(aredis, keys, "L1", config)
    task = asyncio.create_task(writer.run())
    for index in range(count):
        writer.add(entry_of(keys, f"m{index}", channel=str(index % 4)))
        writer.remember(keys.listener_slot_channels("s"), str(index))
    await eventually(lambda: writer.stats.flushes >= 3, what="the first batches")
    own = redis_client.client_id()
    for client in redis_client.client_list():
        if int(client["id"]) != own:
            redis_client.client_kill_filter(_id=client["id"])
    await asyncio.wait_for(writer.drained(), 20)
    await writer.close()
    await asyncio.wait_for(task, 5)
    await aredis.aclose()
    assert writer.stats.failures >= 1, "the connection was not cut while batches were in flight"
    for channel in range(4):
        entries = redis_client.xrange(keys.channel_stream(str(channel))) or []
        assert [(fields or {})["message_id"] for _, fields in entries] == [
            f"m{index}" for index in range(channel, count, 4)
        ]
    assert writer.stats.written + writer.stats.duplicates >= count
    assert redis_client.scard(keys.listener_slot_channels("s")) == count
    redis_client.close()


def message_ids(client: redis.Redis, keys: Keys, channel: str = "42") -> list[str]:
    rows = client.xrange(keys.channel_stream(channel)) or []
    return [str((fields or {})["message_id"]) for _, fields in rows]


async def test_a_full_memory_queue_asks_to_pause_then_a_stall_goes_on_in_the_spool_in_order(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys, tmp_path: Path
) -> None:
    import asyncio

    config = WriterConfig(memory_entries=3, batch_max=4, spool_directory=tmp_path)
    writer = StreamWriter(aredis, keys, "L1", config)
    for index in range(3):
        writer.add(entry_of(keys, f"m{index}"))
    assert writer.behind  # Redis answers (it is not known to fail): readers pause
    waiter = asyncio.create_task(writer.room())
    writer.stalled()  # the pause lasted: the spool takes what comes
    await asyncio.wait_for(waiter, 5)
    for index in range(3, 20):
        writer.add(entry_of(keys, f"m{index}"))
    assert writer.spool is not None and writer.spool.entries == 17
    assert writer.pending == 20
    task = asyncio.create_task(writer.run())
    await asyncio.wait_for(writer.drained(), 5)
    writer.add(entry_of(keys, "m20"))  # caught up: memory again, after the spooled ones
    await asyncio.wait_for(writer.drained(), 5)
    assert writer.spool.empty and writer.spool.size == 0
    await writer.close()
    await asyncio.wait_for(task, 5)
    assert message_ids(redis_client, keys) == [f"m{index}" for index in range(21)]


async def test_entries_received_while_redis_is_down_are_spooled_and_land_once_in_order(
    tmp_path: Path,
) -> None:
    import asyncio

    server = PrivateRedis(str(tmp_path))
    server.start()
    keys = Keys("down")
    client = aioredis.Redis.from_url(server.url, decode_responses=True)
    sync_client = redis.Redis.from_url(server.url, decode_responses=True)
    config = WriterConfig(
        retry_delay_seconds=0.05, memory_entries=50, spool_directory=tmp_path / "spool"
    )
    writer = StreamWriter(client, keys, "L1", config)
    task = asyncio.create_task(writer.run())
    try:
        writer.add(entry_of(keys, "m0"))
        await asyncio.wait_for(writer.drained(), 5)
        server.stop()
        for index in range(1, 6):
            writer.add(entry_of(keys, f"m{index}"))
        await eventually(lambda: writer.stats.failures > 0, what="a failed write")
        # On the failure the memory queue went to disk: a kill -9 now would lose nothing.
        await eventually(lambda: writer._buffer == [] or writer._from_spool, what="spilled")
        for index in range(6, 200):
            writer.add(entry_of(keys, f"m{index}"))
        assert writer.spool is not None and writer.spool.entries == 199
        server.start()
        await asyncio.wait_for(writer.drained(), 10)
        assert message_ids(sync_client, keys) == [f"m{index}" for index in range(200)]
        assert writer.stats.dropped == 0
    finally:
        await writer.close()
        await asyncio.wait_for(task, 5)
        await client.aclose()
        sync_client.close()
        server.stop()


async def test_a_full_spool_drops_counts_logs_once_and_leaves_gap_markers_in_their_place(
    aredis: aioredis.Redis,
    redis_client: redis.Redis,
    keys: Keys,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import asyncio

    from kiss.listener.spool import encode_record

    record = len(encode_record([entry_of(keys, "m0")]))
    config = WriterConfig(memory_entries=2, spool_directory=tmp_path, spool_max_bytes=record * 3)
    writer = StreamWriter(aredis, keys, "L1", config)
    for index in range(12):  # the writer is not running: as if Redis were away
        writer.add(entry_of(keys, f"m{index}", channel=str(index % 2)))
        if writer.behind:
            writer.stalled()
    assert writer.stats.dropped == 7  # 2 in memory, 3 in the spool
    assert caplog.text.count("dropping events") == 1
    task = asyncio.create_task(writer.run())
    await asyncio.wait_for(writer.drained(), 5)
    writer.add(entry_of(keys, "m12", channel="0"))
    await asyncio.wait_for(writer.drained(), 5)
    await writer.close()
    await asyncio.wait_for(task, 5)
    assert writer.stats.gaps == 2
    for channel, kept in (("0", ["m0", "m2", "m4", "gap", "m12"]), ("1", ["m1", "m3", "gap"])):
        rows = [f or {} for _, f in redis_client.xrange(keys.channel_stream(channel)) or []]
        assert [f["message_id"] if f["kind"] != "gap" else "gap" for f in rows] == kept
        gap = orjson.loads(next(f for f in rows if f["kind"] == "gap")["event"])
        assert gap["reason"] == "listener spool full" and gap["from"] <= gap["to"]


async def test_entries_redis_did_not_take_at_shutdown_wait_in_the_spool_for_the_next_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    server = PrivateRedis(str(tmp_path))
    keys = Keys("later")
    client = aioredis.Redis.from_url(server.url, decode_responses=True)
    config = WriterConfig(
        retry_delay_seconds=0.05, close_timeout_seconds=0.3, spool_directory=tmp_path / "spool"
    )
    writer = StreamWriter(client, keys, "L1", config)  # Redis is not started
    for index in range(5):
        writer.add(entry_of(keys, f"m{index}"))
    assert await asyncio.wait_for(writer.close(), 5) == 0
    assert "5 entries are kept in the spool" in caplog.text
    server.start()
    try:
        again = StreamWriter(client, keys, "L1", config)
        again.add(entry_of(keys, "m5"))  # after the spool's, whatever arrives first
        task = asyncio.create_task(again.run())
        await asyncio.wait_for(again.drained(), 5)
        await again.close()
        await asyncio.wait_for(task, 5)
        sync_client = redis.Redis.from_url(server.url, decode_responses=True)
        assert message_ids(sync_client, keys) == [f"m{index}" for index in range(6)]
        sync_client.close()
    finally:
        await client.aclose()
        server.stop()


async def test_ids_with_control_characters_are_written_intact(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    writer = StreamWriter(aredis, keys, "L1")
    for message_id in ("only\x1ebad", "bad\x1fid", "good", 'quo"te\\'):
        writer.add(entry_of(keys, message_id))
    assert await writer.flush() == 4
    assert writer.pending == 0
    entries = redis_client.xrange(keys.channel_stream("42")) or []
    assert [(fields or {})["message_id"] for _, fields in entries] == [
        "only\x1ebad",
        "bad\x1fid",
        "good",
        'quo"te\\',
    ]


async def test_unicode_and_quotes_in_events_survive_the_trip(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    import orjson

    event = {"text": 'héllo "wörld" \\ 🎉\n', "n": 1}
    writer = StreamWriter(aredis, keys, "L1")
    writer.add(entry_of(keys, "u1", event=event))
    await writer.flush()
    [(_, fields)] = redis_client.xrange(keys.channel_stream("42")) or []
    assert orjson.loads((fields or {})["event"]) == event


async def test_a_flushed_script_cache_is_reloaded(
    aredis: aioredis.Redis, redis_client: redis.Redis, keys: Keys
) -> None:
    import asyncio

    writer = StreamWriter(aredis, keys, "L1")
    writer.add(entry_of(keys, "before"))
    await writer.flush()
    writer._sha = "0" * 40  # as after a Redis restart: the cached script is gone
    task = asyncio.create_task(writer.run())
    writer.add(entry_of(keys, "after"))
    await asyncio.wait_for(writer.drained(), 5)
    await writer.close()
    await asyncio.wait_for(task, 5)
    assert redis_client.xlen(keys.channel_stream("42")) == 2


async def test_entries_wait_out_a_redis_restart_and_land_once(tmp_path: Path) -> None:
    import asyncio

    server = PrivateRedis(str(tmp_path))
    server.start()
    keys = Keys("restart")
    client = aioredis.Redis.from_url(server.url, decode_responses=True)
    writer = StreamWriter(client, keys, "L1", WriterConfig(retry_delay_seconds=0.05))
    try:
        writer.add(entry_of(keys, "m0"))
        await writer.flush()
        server.stop()
        task = asyncio.create_task(writer.run())
        for index in range(1, 6):
            writer.add(entry_of(keys, f"m{index}"))
            writer.remember(keys.listener_slot_channels("s"), str(index))
        await eventually(lambda: writer.stats.failures > 1, what="failed flushes")
        assert writer.pending == 5
        server.start()
        await asyncio.wait_for(writer.drained(), 10)
        await writer.close()
        await asyncio.wait_for(task, 5)
        entries = await client.xrange(keys.channel_stream("42"))
        assert [(f or {})["message_id"] for _, f in entries or []] == [f"m{i}" for i in range(6)]
        # The channels remembered meanwhile went out with sends that failed: sent again too.
        members = await client.smembers(keys.listener_slot_channels("s"))
        assert members == {str(index) for index in range(1, 6)}
    finally:
        await client.aclose()
        server.stop()


async def test_a_full_redis_refusing_writes_keeps_the_entries_until_it_has_room(
    private_redis: PrivateRedis,
) -> None:
    import asyncio

    server = private_redis  # reconfigured below: never the shared Redis
    keys = Keys("full")
    client = aioredis.Redis.from_url(server.url, decode_responses=True)
    admin = redis.Redis.from_url(server.url)
    writer = StreamWriter(client, keys, "L1", WriterConfig(retry_delay_seconds=0.05))
    task = asyncio.create_task(writer.run())
    try:
        admin.config_set("maxmemory-policy", "noeviction")
        admin.set("ballast", b"x" * 5_000_000)
        admin.config_set("maxmemory", "4mb")  # now over it: every write is refused (OOM)
        for index in range(20):
            writer.add(entry_of(keys, f"m{index}"))
        await eventually(lambda: writer.stats.failures >= 2, what="refused writes")
        assert writer.pending == 20 and not task.done()
        admin.delete("ballast")
        await asyncio.wait_for(writer.drained(), 10)
        entries = await client.xrange(keys.channel_stream("42"))
        assert [(f or {})["message_id"] for _, f in entries or []] == [f"m{i}" for i in range(20)]
    finally:
        await writer.close()
        await asyncio.wait_for(task, 5)
        await client.aclose()
        admin.close()


async def test_close_gives_up_on_an_unreachable_redis_in_time_and_says_what_is_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import asyncio

    server = PrivateRedis(str(tmp_path))
    server.start()
    keys = Keys("gone")
    client = aioredis.Redis.from_url(server.url, decode_responses=True)
    config = WriterConfig(retry_delay_seconds=0.05, close_timeout_seconds=0.5)
    writer = StreamWriter(client, keys, "L1", config)
    task = asyncio.create_task(writer.run())
    try:
        writer.add(entry_of(keys, "m0"))
        await asyncio.wait_for(writer.drained(), 5)
        server.stop()
        for index in range(1, 6):
            writer.add(entry_of(keys, f"m{index}"))
        await eventually(lambda: writer.stats.failures > 0, what="a failed write")
        assert await asyncio.wait_for(writer.close(), 5) == 5
        assert "did not take the last 5 entries" in caplog.text
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()
        server.stop()
