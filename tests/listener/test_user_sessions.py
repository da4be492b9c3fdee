from __future__ import annotations

import orjson
import pytest

from kiss.listener.user_sessions import sessions_to_open


def request(sessions: int, at: float) -> bytes:
    return orjson.dumps({"sessions": sessions, "at": at})


@pytest.mark.parametrize(
    ("running", "asked", "retired_at", "more"),
    [
        (1, None, None, 0),
        (1, request(2, 10.0), None, 1),
        (2, request(2, 10.0), None, 0),
        (1, request(5, 10.0), None, 2),  # never past Twitch's 3 per user
        (1, request(2, 10.0), 10.0, 0),  # the request predates the retirement: outdated
        (1, request(2, 11.0), 10.0, 1),  # asked again since
        (1, b"not json", None, 0),
        (1, b'{"sessions": "x", "at": 1}', None, 0),
    ],
)
def test_sessions_to_open(
    running: int, asked: bytes | None, retired_at: float | None, more: int
) -> None:
    assert sessions_to_open(running, asked, retired_at) == more
