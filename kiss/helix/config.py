"""What the Helix layer needs of the settings, and nothing else: built once by ``from_settings``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiss.settings import Settings


@dataclass(frozen=True, slots=True)
class HelixConfig:
    """Where Helix is, who we are to it, and how fast the shared bucket lets us call it."""

    helix_url: str
    client_id: str
    key_prefix: str
    req_rate_per_s: float
    req_jitter_ms: int

    @classmethod
    def from_settings(cls, settings: Settings) -> HelixConfig:
        from kiss.auth.credentials import client_credentials

        client_id, _ = client_credentials(settings)
        return cls(
            helix_url=settings.twitch.helix_url,
            client_id=client_id,
            key_prefix=settings.key_prefix,
            req_rate_per_s=settings.eventsub.req_rate_per_s,
            req_jitter_ms=settings.eventsub.req_jitter_ms,
        )
