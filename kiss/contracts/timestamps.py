"""The hub's own times in what it writes to Redis: epoch seconds, in one text form.

Every time the hub writes of its own (an entry's ``received_ts``, a request's ``ts``, a
bot's presence, a heartbeat) is ``epoch_text``: readers take it back with ``float``.
Timestamps in Twitch's form (RFC3339 with nanoseconds: an entry's ``twitch_ts``) are
``kiss.eventsub.timestamps``'s, which parses them too.
"""

from __future__ import annotations


def epoch_text(seconds: float) -> str:
    """Epoch seconds as the shortest text that ``float`` reads back as the same number."""
    return repr(float(seconds))
