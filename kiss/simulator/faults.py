"""Injected faults for tests and demos: errors, 429s and latency on a path prefix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiss.simulator.problems import bad_request

KINDS = ("5xx", "ratelimit")


@dataclass
class Fault:
    path_prefix: str
    status: int | None  # None: latency only
    count: int | None  # None: until cleared
    latency_ms: float
    kind: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "path_prefix": self.path_prefix,
            "status": self.status,
            "count": self.count,
            "latency_ms": self.latency_ms,
            "kind": self.kind,
        }


def parse_fault(body: Any) -> Fault:
    """A fault from the control API's JSON, or a 400 naming the bad field."""
    if not isinstance(body, dict):
        raise bad_request("fault must be a JSON object")
    prefix = body.get("path_prefix")
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise bad_request("path_prefix must be a path starting with /, e.g. /helix/eventsub")
    kind = body.get("kind")
    if kind is not None and kind not in KINDS:
        raise bad_request(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    status = body.get("status")
    if status is None and kind == "5xx":
        status = 503
    if status is None and kind == "ratelimit":
        status = 429
    if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
        raise bad_request(f"status must be an HTTP error status 400-599, got {status!r}")
    count = body.get("count")
    if count is not None and (not isinstance(count, int) or count < 1):
        raise bad_request(f"count must be a positive integer, got {count!r}")
    latency = body.get("latency_ms", 0)
    if not isinstance(latency, int | float) or latency < 0:
        raise bad_request(f"latency_ms must be a number >= 0, got {latency!r}")
    if status is None and not latency:
        raise bad_request("a fault needs a status, a kind or a latency_ms")
    return Fault(prefix, status, count, float(latency), kind)


class Faults:
    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def clear(self) -> None:
        self._faults.clear()

    def list(self) -> list[Fault]:
        return list(self._faults)

    def take(self, path: str) -> Fault | None:
        """The first fault for this path, used up once (removed when its count runs out)."""
        for fault in self._faults:
            if path.startswith(fault.path_prefix):
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                return fault
        return None
