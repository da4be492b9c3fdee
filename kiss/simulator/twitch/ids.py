"""Unique ids shaped like UUIDv4 that cost a counter increment, for the notification hot path."""

from __future__ import annotations

import secrets


class UuidSequence:
    """A random 80-bit base and a 48-bit counter: unique within the process, UUID-shaped."""

    __slots__ = ("_count", "_prefix")

    def __init__(self) -> None:
        raw = secrets.token_hex(10)
        self._prefix = (
            f"{raw[:8]}-{raw[8:12]}-4{raw[12:15]}-{'89ab'[int(raw[15], 16) % 4]}{raw[16:19]}-"
        )
        self._count = secrets.randbits(40)

    def next(self) -> str:
        self._count += 1
        return f"{self._prefix}{self._count & 0xFFFFFFFFFFFF:012x}"
