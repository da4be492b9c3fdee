"""Interleaved, readable logs: each child's line gets its name, padded, and a stable colour."""

from __future__ import annotations

_COLOURS = (36, 32, 33, 35, 34, 91, 92, 93, 94, 95, 96)


def colour_for(name: str) -> int:
    """A colour that stays the same for a name across runs (not Python's salted hash)."""
    return _COLOURS[sum(name.encode()) % len(_COLOURS)]


def format_line(name: str, line: str, *, width: int, colour: bool) -> str:
    """``name | line`` with the name padded to ``width``; trailing newline stripped."""
    text = line.rstrip("\r\n")
    label = name.ljust(width)
    if colour:
        label = f"\x1b[{colour_for(name)}m{label}\x1b[0m"
    return f"{label} | {text}"
