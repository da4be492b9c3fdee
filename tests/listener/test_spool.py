from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import pytest

from kiss.contracts.stream_entry import Entry
from kiss.errors import ConfigError
from kiss.keys import Keys
from kiss.listener.spool import Spool, SpoolInUse, encode_record, spool_directory
from kiss.settings import load_settings

KEYS = Keys("spool-test")


def entry(number: int, channel: str = "42") -> Entry:
    return Entry(
        KEYS.channel_stream(channel), KEYS.dedup_message(f"m{number}"), "notification",
        f"m{number}", "channel.chat.message", "1", channel, "sub", "2026-12-03T18:00:00Z",
        "1.0", b'{"n": %d, "bytes": "\\u00e9\\u0000"}' % number,
    )  # fmt: skip


def read_all(spool: Spool) -> list[Entry]:
    found: list[Entry] = []
    while batch := spool.read(7):
        found.extend(batch)
    return found


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.spool"))


def test_entries_come_back_in_order_across_segments_and_commit_deletes_them(
    tmp_path: Path,
) -> None:
    spool = Spool(tmp_path, 1 << 20, segment_bytes=600)
    for start in range(0, 40, 4):
        assert spool.append([entry(n) for n in range(start, start + 4)])
    assert len(segments(tmp_path)) > 2
    assert spool.entries == 40
    assert read_all(spool) == [entry(n) for n in range(40)]
    assert not spool.unread and not spool.empty
    spool.commit()
    assert (spool.empty, spool.size, segments(tmp_path)) == (True, 0, [])
    assert spool.append([entry(99)])
    assert spool.read(10) == [entry(99)]


def test_rewind_reads_again_what_was_not_committed(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20, segment_bytes=300)
    for number in range(10):
        spool.append([entry(number)])
    first = spool.read(3)
    spool.commit()
    assert spool.read(3) == [entry(3), entry(4), entry(5)]
    spool.rewind()
    assert first + read_all(spool) == [entry(n) for n in range(10)]


def test_prepend_puts_entries_before_the_spooled_ones(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    spool.append([entry(3), entry(4)])
    assert spool.prepend([entry(1), entry(2)])
    assert read_all(spool) == [entry(n) for n in range(1, 5)]
    assert not spool.prepend([entry(0)])  # once reading began, the head is not ours to change
    spool.close()
    assert read_all(Spool(tmp_path, 1 << 20)) == [entry(n) for n in range(1, 5)]


def test_a_full_spool_refuses_and_takes_again_once_drained(tmp_path: Path) -> None:
    record = len(encode_record([entry(0)]))
    spool = Spool(tmp_path, record * 3)
    assert all(spool.append([entry(n)]) for n in range(3))
    assert not spool.append([entry(3)])
    assert spool.size <= record * 3
    read_all(spool)
    spool.commit()
    assert spool.append([entry(4)])


def test_a_restarted_spool_replays_what_a_killed_run_left(tmp_path: Path) -> None:
    first = Spool(tmp_path, 1 << 20, segment_bytes=500)
    for number in range(12):
        first.append([entry(number)])
    first.read(5)
    first.commit()  # the first five reached Redis
    os.close(first._lock_fd)  # as a kill -9 releases the lock, with nothing flushed by us
    second = Spool(tmp_path, 1 << 20, segment_bytes=500)
    assert second.stats.replayed >= 7
    replayed = read_all(second)
    # Whole segments are deleted on commit: a partly read one comes back (dedup drops it).
    assert replayed[-7:] == [entry(n) for n in range(5, 12)]
    assert replayed == [entry(n) for n in range(12 - len(replayed), 12)]
    second.append([entry(12)])
    assert second.read(5) == [entry(12)]


def test_a_torn_last_record_is_dropped_with_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(tmp_path, 1 << 20)
    spool.append([entry(0), entry(1)])
    spool.append([entry(2)])
    spool.close()
    path = segments(tmp_path)[-1]
    whole = path.stat().st_size
    os.truncate(path, whole - 3)  # the last write cut short
    with caplog.at_level(logging.WARNING):
        again = Spool(tmp_path, 1 << 20)
    torn = [r for r in caplog.records if "torn record at byte" in r.getMessage()]
    assert len(torn) == 1
    assert again.stats.torn == 1
    assert read_all(again) == [entry(0), entry(1)]
    again.append([entry(3)])
    assert read_all(again) == [entry(3)]


def test_a_corrupt_record_is_cut_off_by_its_checksum(tmp_path: Path) -> None:
    spool = Spool(tmp_path, 1 << 20)
    spool.append([entry(0)])
    spool.append([entry(1)])
    spool.close()
    path = segments(tmp_path)[-1]
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF  # a flipped byte inside the last record's payload
    path.write_bytes(bytes(data))
    assert read_all(Spool(tmp_path, 1 << 20)) == [entry(0)]


def test_an_empty_spool_leaves_no_directory_behind(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "L1", 1 << 20)
    spool.append([entry(0)])
    spool.close()
    assert (tmp_path / "L1").is_dir()  # something to replay
    again = Spool(tmp_path / "L1", 1 << 20)
    read_all(again)
    again.commit()
    again.close()
    assert not (tmp_path / "L1").exists()


def test_a_second_process_cannot_use_the_same_spool(tmp_path: Path) -> None:
    first = Spool(tmp_path, 1 << 20)
    with pytest.raises(SpoolInUse, match="in use by another process"):
        Spool(tmp_path, 1 << 20)
    first.close()
    Spool(tmp_path, 1 << 20).close()


def test_an_unusable_directory_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="spool directory"):
        Spool(blocker / "spool", 1 << 20)


@pytest.mark.parametrize(
    ("given", "size"),
    [(2_000_000, 2_000_000), ("1GiB", 2**30), ("500 MB", 500_000_000), ("1.5MiB", 1_572_864)],
)
def test_the_spool_size_setting_takes_bytes_or_units(given: object, size: int) -> None:
    assert load_settings(spool={"max_bytes": given}).spool.max_bytes == size


def test_the_default_spool_is_a_gigabyte_beside_the_working_data() -> None:
    settings = load_settings()
    assert settings.spool.max_bytes == 2**30
    assert spool_directory(settings.spool.directory, "listener-1") == Path(".kiss-spool/listener-1")


@pytest.mark.parametrize(
    ("spool", "problem"),
    [
        ({"max_bytes": "lots"}, "spool.max_bytes='lots'"),
        ({"max_bytes": 1000}, "spool.max_bytes=1000"),
        ({"directory": "."}, "spool.directory"),
    ],
)
def test_bad_spool_settings_are_named(spool: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(problem)):
        load_settings(spool=spool)


@pytest.mark.parametrize("listener_id", ["../etc", "a/b", "", ".hidden", "x\n"])
def test_a_listener_id_that_cannot_name_a_directory_is_refused(listener_id: str) -> None:
    with pytest.raises(ConfigError, match="cannot name its spool directory"):
        spool_directory(Path(".kiss-spool"), listener_id)
