"""The simulator's settings: every duration is in Twitch-seconds, scaled by ``time_unit``."""

from __future__ import annotations

from dataclasses import dataclass

from kiss.errors import ConfigError

DEMO_CLIENT_ID = "kiss-demo-client"
DEMO_CLIENT_SECRET = "kiss-demo-secret"  # noqa: S105  (a public demo credential, not a secret)


@dataclass(frozen=True)
class SimulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    # Real seconds per Twitch-second: 1.0 behaves like Twitch, tests use e.g. 0.02.
    time_unit: float = 1.0
    rate_limit_points: int = 800
    rate_limit_window: float = 60.0
    disabled_retention: float = 60.0
    subscribe_window: float = 10.0
    reconnect_grace: float = 30.0
    ping_interval: float = 5.0
    pong_timeout: float = 10.0
    # Pongs travel through the client's event loop; never demand one faster than this (real s).
    min_pong_timeout: float = 1.0
    default_keepalive: int = 10
    token_lifetime: float = 14_400.0
    device_code_lifetime: float = 1_800.0
    device_poll_interval: float = 5.0
    conduit_idle_lifetime: float = 72 * 3600.0
    max_conduits: int = 5
    max_shards: int = 20_000
    ws_max_connections: int = 3
    ws_max_subscriptions: int = 300
    ws_max_total_cost: int = 10
    app_max_total_cost: int = 10_000
    max_same_type_condition: int = 3
    page_size: int = 100
    # Twitch answers 400 for a condition naming an unknown user; off by default so that
    # tests need not create every broadcaster first.
    require_known_users: bool = False
    demo_client: bool = True

    def __post_init__(self) -> None:
        if not self.time_unit > 0:
            raise ConfigError(f"simulator time_unit must be > 0, got {self.time_unit!r}")
        if self.rate_limit_points < 1:
            raise ConfigError(
                f"simulator rate_limit_points must be >= 1, got {self.rate_limit_points!r}"
            )
        if not self.rate_limit_window > 0:
            raise ConfigError(
                f"simulator rate_limit_window must be > 0, got {self.rate_limit_window!r}"
            )
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"simulator port must be 0..65535, got {self.port!r}")

    def seconds(self, twitch_seconds: float) -> float:
        """Real seconds for a duration given in Twitch-seconds."""
        return twitch_seconds * self.time_unit

    def clamp_keepalive(self, requested: str | None) -> int:
        """The welcome's keepalive: a number clamped to 10..600, the default when absent."""
        if requested is None or requested == "":
            return self.default_keepalive
        try:
            value = int(float(requested))
        except ValueError:
            return self.default_keepalive
        return min(600, max(10, value))
