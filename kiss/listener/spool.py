"""The listener's spool: stream entries kept on disk, in order, while Redis cannot take them.

A spool is a directory of segment files (``000000000001.spool``, ...) written append-only
and read in order. Each record is one batch of entries (a network read's worth):

    length u32 | count u32 | crc32 u32 | payload (MessagePack array of entries)

little-endian, the CRC over length, count and payload. A torn last record (a process killed
mid-write, a disk full) fails its length or CRC: the file is cut there, with one log line.

Writes go to the kernel at once (one ``os.write`` per record: a kill -9 loses nothing that
``append`` accepted); ``sync`` makes them durable against a power loss and is called on a
timer by the writer. Reading is two-step: ``read`` hands out the next entries, ``commit``
says they are in Redis (segments read to the end are deleted then), ``rewind`` says they
are not and that they must be read again. A lock on the directory keeps a second process
(a second listener with the same id) out.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import msgspec

from kiss.contracts.stream_entry import Entry
from kiss.errors import ConfigError

log = logging.getLogger(__name__)

_HEADER = struct.Struct("<III")
_SUFFIX = ".spool"
DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024
_FIRST_SEQ = 500_000_000_000  # room below for ``prepend``

_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(list[Entry]).decode


class SpoolInUse(ConfigError):
    """Another process holds the spool directory (two listeners with one id?)."""


_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def spool_directory(base: Path, listener_id: str) -> Path:
    """A listener's own spool, ``<base>/<listener id>``: the same id finds it after a restart."""
    if not _SAFE_NAME.fullmatch(listener_id):
        raise ConfigError(
            f"listener id {listener_id!r} cannot name its spool directory: use letters, "
            "digits, '.', '_' and '-' (starting with a letter or digit)"
        )
    return base / listener_id


def _checksum(length: int, count: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(struct.pack("<II", length, count)))


def encode_record(entries: Sequence[Entry]) -> bytes:
    payload = _encode(entries)
    count = len(entries)
    return _HEADER.pack(len(payload), count, _checksum(len(payload), count, payload)) + payload


@dataclass
class _Segment:
    seq: int
    path: Path
    size: int  # bytes of whole records
    entries: int


@dataclass(frozen=True)
class _Cursor:
    index: int  # in ``Spool._segments``
    offset: int


@dataclass
class SpoolStats:
    spooled: int = 0  # entries appended since the start
    replayed: int = 0  # entries found at the start, left by a previous run
    torn: int = 0  # records cut off as torn or corrupt


def _scan(path: Path) -> tuple[int, int, str | None]:
    """The length of the whole, valid records at the start of ``path``, their entry count,
    and what was wrong after them (None: nothing)."""
    data = path.read_bytes()
    offset = entries = 0
    while offset < len(data):
        header = data[offset : offset + _HEADER.size]
        if len(header) < _HEADER.size:
            return offset, entries, "torn header"
        length, count, crc = _HEADER.unpack(header)
        payload = data[offset + _HEADER.size : offset + _HEADER.size + length]
        if len(payload) < length:
            return offset, entries, "torn record"
        if _checksum(length, count, payload) != crc:
            return offset, entries, "checksum mismatch"
        offset += _HEADER.size + length
        entries += count
    return offset, entries, None


def spooled_entries(directory: Path) -> int:
    """How many entries the spool in ``directory`` holds, read or not, without taking it
    (for operators and tests: the owner may be running)."""
    return sum(_scan(path)[1] for path in sorted(directory.glob(f"*{_SUFFIX}")))


class Spool:
    """An append-only, size-bounded queue of entries on disk (see the module doc)."""

    def __init__(
        self,
        directory: Path,
        max_bytes: int,
        *,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
    ) -> None:
        if max_bytes < 1:
            raise ConfigError(f"spool max_bytes={max_bytes}: must be at least 1")
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = max(1, min(segment_bytes, max_bytes // 4 or 1))
        self.stats = SpoolStats()
        self._segments: list[_Segment] = []
        self._write_fd: int | None = None
        self._dirty = False
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise ConfigError(f"spool directory {str(directory)!r}: {error}") from error
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise SpoolInUse(
                f"spool directory {str(directory)!r} is in use by another process "
                "(a second listener with the same id?)"
            ) from None
        self._open_segments()
        self._committed = _Cursor(0, 0)
        self._read = self._committed

    # -- state ----------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """Bytes on disk (read or not), what ``max_bytes`` bounds."""
        return sum(segment.size for segment in self._segments)

    @property
    def entries(self) -> int:
        """Entries on disk not yet committed (approximate within the first segment)."""
        return sum(segment.entries for segment in self._segments)

    @property
    def empty(self) -> bool:
        """Nothing left that is not committed."""
        return self._at_end(self._committed)

    @property
    def unread(self) -> bool:
        return not self._at_end(self._read)

    def _at_end(self, cursor: _Cursor) -> bool:
        segments = self._segments
        return all(
            segment.size == (cursor.offset if index == cursor.index else 0)
            for index, segment in enumerate(segments)
            if index >= cursor.index
        )

    # -- writing --------------------------------------------------------------------------

    def append(self, entries: Sequence[Entry]) -> bool:
        """Keep ``entries`` after the others; False (nothing kept) if the spool is full."""
        if not entries:
            return True
        record = encode_record(entries)
        if self.size + len(record) > self.max_bytes:
            return False
        segment = self._segments[-1] if self._segments else None
        if segment is None or self._write_fd is None or segment.size >= self.segment_bytes:
            segment = self._new_segment()
        assert self._write_fd is not None
        os.write(self._write_fd, record)
        segment.size += len(record)
        segment.entries += len(entries)
        self.stats.spooled += len(entries)
        self._dirty = True
        return True

    def prepend(self, entries: Sequence[Entry]) -> bool:
        """Keep ``entries`` before all the others (entries held in memory when Redis failed,
        older than the spool's); only while nothing is read. False if the spool is full."""
        if not entries:
            return True
        if self._read != _Cursor(0, 0) or self._committed != _Cursor(0, 0):
            return False
        record = encode_record(entries)
        if self.size + len(record) > self.max_bytes:
            return False
        seq = self._segments[0].seq - 1 if self._segments else _FIRST_SEQ
        path = self.directory / f"{seq:012d}{_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, record)
            os.fsync(fd)  # rare: once per outage
        finally:
            os.close(fd)
        self._segments.insert(0, _Segment(seq, path, len(record), len(entries)))
        self.stats.spooled += len(entries)
        return True

    def sync(self) -> None:
        """Make what was appended durable (against a power loss, not only a process kill)."""
        if self._dirty and self._write_fd is not None:
            self._dirty = False
            os.fsync(self._write_fd)

    # -- reading --------------------------------------------------------------------------

    def read(self, max_entries: int) -> list[Entry]:
        """The next entries after those read, whole records, at least one if any is left."""
        found: list[Entry] = []
        cursor = self._read
        while len(found) < max_entries and cursor.index < len(self._segments):
            segment = self._segments[cursor.index]
            if cursor.offset >= segment.size:
                if cursor.index == len(self._segments) - 1:
                    break
                cursor = _Cursor(cursor.index + 1, 0)
                continue
            with segment.path.open("rb") as file:
                file.seek(cursor.offset)
                while len(found) < max_entries and cursor.offset < segment.size:
                    batch, used = self._next_record(file, segment, cursor.offset)
                    found.extend(batch)
                    cursor = _Cursor(cursor.index, cursor.offset + used)
        self._read = cursor
        return found

    def _next_record(
        self, file: BinaryIO, segment: _Segment, offset: int
    ) -> tuple[list[Entry], int]:
        header = file.read(_HEADER.size)
        length, count, crc = _HEADER.unpack(header)
        payload = file.read(length)
        if len(payload) < length or _checksum(length, count, payload) != crc:
            # Checked when the spool was opened: the disk changed it since. Skip the rest.
            self.stats.torn += 1
            log.error("spool %s: a corrupt record at byte %d; skipping the rest of the file",
                      segment.path, offset)  # fmt: skip
            return [], segment.size - offset
        return _decode(payload), _HEADER.size + length

    def commit(self) -> None:
        """Everything read is in Redis: forget it (segments read to the end are deleted)."""
        self._committed = self._read
        done = self._committed.index
        if self.empty:
            done = len(self._segments)
        for segment in self._segments[:done]:
            segment.path.unlink(missing_ok=True)
        if done == len(self._segments):
            self._close_write()
            self._segments = []
            self._committed = self._read = _Cursor(0, 0)
            return
        self._segments = self._segments[done:]
        self._committed = self._read = _Cursor(0, self._committed.offset)

    def rewind(self) -> None:
        """What was read since the last commit did not reach Redis: read it again."""
        self._read = self._committed

    def close(self) -> None:
        """Release the spool; an empty one leaves no directory behind."""
        self.sync()
        self._close_write()
        if not self._segments:
            with contextlib.suppress(OSError):
                (self.directory / "lock").unlink()
                self.directory.rmdir()
        os.close(self._lock_fd)

    # -- segments -------------------------------------------------------------------------

    def _open_segments(self) -> None:
        """Find the segments a previous run left, cutting a torn tail off."""
        paths = sorted(self.directory.glob(f"*{_SUFFIX}"))
        for path in paths:
            try:
                seq = int(path.stem)
            except ValueError:
                continue
            size, entries, problem = _scan(path)
            if problem is not None:
                dropped = path.stat().st_size - size
                self.stats.torn += 1
                log.warning("spool %s: %s at byte %d; %d bytes dropped",
                            path, problem, size, dropped)  # fmt: skip
                os.truncate(path, size)
            if size == 0:
                path.unlink()
                continue
            self._segments.append(_Segment(seq, path, size, entries))
            self.stats.replayed += entries
        if self.stats.replayed:
            log.warning("spool %s: %d entries left by a previous run; writing them to Redis first",
                        self.directory, self.stats.replayed)  # fmt: skip

    def _new_segment(self) -> _Segment:
        self._close_write()
        seq = self._segments[-1].seq + 1 if self._segments else _FIRST_SEQ
        path = self.directory / f"{seq:012d}{_SUFFIX}"
        self._write_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        segment = _Segment(seq, path, 0, 0)
        self._segments.append(segment)
        return segment

    def _close_write(self) -> None:
        if self._write_fd is not None:
            if self._dirty:
                os.fsync(self._write_fd)
                self._dirty = False
            os.close(self._write_fd)
            self._write_fd = None
