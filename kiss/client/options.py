"""The knobs of the bot client, with defaults that suit production; tests shrink the times."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field


def default_consumer_name() -> str:
    """Host and pid: a name for a process that never needs its own entries back after a
    restart (workers/control.py). A bot's consumer name is ``consumer_name`` instead."""
    return f"{socket.gethostname()}-{os.getpid()}"


def default_instance() -> str:
    """The host's name: the same after a restart (a pid is not), so that a restarted process
    finds the entries it held when it died. Two processes of one bot on one host need an
    ``instance`` each."""
    return socket.gethostname()


def consumer_name(bot: str, instance: str) -> str:
    """A process's consumer name within its bot's group: bot name and instance, stable."""
    return f"{bot}@{instance}"


@dataclass(frozen=True)
class ClientOptions:
    # Reading: one XREADGROUP serves up to streams_per_reader channels of one bot name, on a
    # connection of its own. Fewer keys per call make each call cheaper for Redis and the
    # reply sooner, at the price of more connections (docs/performance.md has the figures).
    block_ms: int = 1000
    count: int = 64
    streams_per_reader: int = 10
    # A bot's local queue: past this many undelivered entries its stream is not read.
    queue_size: int = 256
    # Acknowledgements wait this long to go out together (one pipeline for many bots).
    ack_linger: float = 0.005
    # Reclaim: entries pending longer than min_idle_ms (a crashed consumer's, or whose
    # handler raised) are claimed again; after max_deliveries they go to the dead letters.
    min_idle_ms: int = 30_000
    reclaim_interval: float = 5.0
    reclaim_count: int = 100
    max_deliveries: int = 5
    dead_letter_maxlen: int = 10_000
    # Consumers of crashed processes are forgotten once they hold nothing and were idle this
    # long; the sweep runs every sweep_interval.
    dead_consumer_idle_ms: int = 3_600_000
    sweep_interval: float = 600.0
    # Presence (the seed's hello): a hash with a TTL, refreshed every presence_interval.
    presence_interval: float = 5.0
    presence_ttl: float = 30.0
    # Reconnect to Redis: exponential backoff with full jitter between these bounds.
    backoff_base: float = 0.05
    backoff_max: float = 5.0
    # Redis connections in the shared pool (each reader has one more, of its own).
    max_connections: int = 32
    # Which process of a bot this is: its consumer name is ``<bot>@<instance>``.
    instance: str = field(default_factory=default_instance)

    def __post_init__(self) -> None:
        for name in ("block_ms", "count", "streams_per_reader", "queue_size", "max_deliveries"):
            if getattr(self, name) < 1:
                raise ValueError(f"ClientOptions.{name} must be at least 1")
        if self.presence_ttl <= self.presence_interval:
            raise ValueError("ClientOptions.presence_ttl must exceed presence_interval")
        if not self.instance or any(c.isspace() for c in self.instance):
            raise ValueError(f"ClientOptions.instance must be a word, got {self.instance!r}")
        if not 0 < self.backoff_base <= self.backoff_max:
            raise ValueError("ClientOptions needs 0 < backoff_base <= backoff_max")
