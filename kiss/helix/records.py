"""What Helix answers about subscriptions, as plain records (the store persists them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from kiss.eventsub import catalog


def canonical(condition: Mapping[str, Any]) -> str:
    """The condition as canonical JSON: equal conditions give equal strings."""
    return orjson.dumps(dict(condition), option=orjson.OPT_SORT_KEYS).decode()


@dataclass(frozen=True, slots=True)
class TwitchSubscription:
    """One subscription as Helix describes it (create answer or a Get page)."""

    id: str
    type: str
    version: str
    condition: dict[str, str]
    status: str
    cost: int
    method: str
    session_id: str | None
    conduit_id: str | None
    created_at: datetime | None

    @property
    def channel_id(self) -> str:
        return catalog.channel_of(self.type, self.version, self.condition) or ""
