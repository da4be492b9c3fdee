"""Presence, the seed's hello as data: each bot's hash with a TTL, refreshed while it runs.

Fields: channel_name, bot, consumer, started_at, last_seen, pending (delivered, not yet
acknowledged), lag (in the stream, not yet delivered to the bot's group), state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kiss.contracts.timestamps import epoch_text


@dataclass(frozen=True)
class PresenceCard:
    key: str
    stream: str
    group: str
    channel_id: str
    channel_name: str
    bot: str
    consumer: str
    started_at: float


def group_figures(groups: Iterable[Mapping[str, Any]], group: str) -> tuple[int, int | None]:
    """(pending, lag) of one group from ``XINFO GROUPS``; lag is None when Redis cannot tell."""
    for info in groups:
        if info.get("name") == group:
            lag = info.get("lag")
            return int(info.get("pending") or 0), (None if lag is None else int(lag))
    return 0, None


def presence_fields(
    card: PresenceCard, pending: int, lag: int | None, now: float, state: str = "running"
) -> dict[str, str]:
    return {
        "channel_id": card.channel_id,
        "channel_name": card.channel_name,
        "bot": card.bot,
        "consumer": card.consumer,
        "started_at": epoch_text(card.started_at),
        "last_seen": epoch_text(now),
        "pending": str(pending),
        "lag": "" if lag is None else str(lag),
        "state": state,
    }
