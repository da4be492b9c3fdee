"""When a websocket-transport user needs another session (Twitch: 300 subscriptions each, at
most 3 per user), decided with no I/O.

The reconciler writes ``Keys.ws_sessions_wanted()`` on each pass: the users whose sessions
are all full and how many sessions they need. The listener opens the next one; the
reconciler fills it when it is welcomed (inside Twitch's 10 s window). A session opened for
nothing is closed by Twitch with 4003: the listener then retires it, and opens another only
on a request written after that, so an outdated request cannot make it loop.
"""

from __future__ import annotations

import orjson

MAX_SESSIONS_PER_USER = 3  # Twitch: 3 websocket connections per client id + user


def sessions_to_open(running: int, request: bytes | str | None, retired_at: float | None) -> int:
    """How many sessions to open now for a user who has ``running`` of them."""
    if request is None:
        return 0
    try:
        record = orjson.loads(request)
        wanted, at = int(record["sessions"]), float(record["at"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return 0
    if retired_at is not None and at <= retired_at:
        return 0
    return max(0, min(wanted, MAX_SESSIONS_PER_USER) - running)
