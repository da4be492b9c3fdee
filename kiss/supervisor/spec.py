"""What the supervisor runs: a named command, its environment, and how to tell it is ready."""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import requests

# A readiness probe: cheap, synchronous, True once the process serves.
ReadyCheck = Callable[[], bool]


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    ready: ReadyCheck | None = None
    ready_timeout: float = 60.0
    # A one-shot step (a migration, say) must exit 0 before the next process starts.
    oneshot: bool = False
    # Liveness while it runs (its heartbeat, say): failing for ``unhealthy_after`` seconds in a
    # row gets a hung process restarted, as the seed's supervisor's health check did.
    healthy: ReadyCheck | None = None
    unhealthy_after: float = 30.0


def tcp_listening(host: str, port: int) -> ReadyCheck:
    """Ready once something accepts TCP connections on host:port."""

    def check() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    return check


def http_answers(url: str) -> ReadyCheck:
    """Ready once the URL answers with any HTTP status below 500."""

    def check() -> bool:
        try:
            return requests.get(url, timeout=1.0).status_code < 500
        except requests.RequestException:
            return False

    return check
