"""Injected faults for tests and demos: errors, 429s and latency on a path prefix (each for
a ``count`` of requests or until cleared, on every matching request or a ``probability``
share of them; an error either instead of the request or ``after`` it was carried out, an
answer lost on its way back); raw frames (any text, or binary) written to a session's
socket as they are, to test a client against what Twitch never sends.

A request meets every matching fault in the order they were added: the latencies of those
that fire add up, and the first error that fires is the answer (the later error faults are
not used up by it). ``Faults.served`` counts the errors served, by status.
"""

from __future__ import annotations

import base64
import binascii
import random
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import orjson

from kiss.simulator.twitch.problems import bad_request

KINDS = ("5xx", "ratelimit")


@dataclass
class Fault:
    path_prefix: str
    status: int | None  # None: latency only
    count: int | None  # None: until cleared
    latency_ms: float
    kind: str | None
    probability: float | None = None  # None: every matching request
    after: bool = False  # the request is carried out, then its answer replaced by the error

    def to_json(self) -> dict[str, Any]:
        return {
            "path_prefix": self.path_prefix,
            "status": self.status,
            "count": self.count,
            "latency_ms": self.latency_ms,
            "kind": self.kind,
            "probability": self.probability,
            "after": self.after,
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
    after = body.get("after", False)
    if not isinstance(after, bool):
        raise bad_request(f"after must be true or false, got {after!r}")
    if after and status is None:
        raise bad_request("after needs a status or a kind: it replaces the answer by an error")
    return Fault(prefix, status, count, float(latency), kind, _probability(body), after)


def _probability(body: dict[str, Any]) -> float | None:
    probability = body.get("probability")
    if probability is None:
        return None
    if not isinstance(probability, int | float) or isinstance(probability, bool):
        raise bad_request(f"probability must be a number in (0, 1], got {probability!r}")
    if not 0 < probability <= 1:
        raise bad_request(f"probability must be a number in (0, 1], got {probability!r}")
    return float(probability)


class Faults:
    def __init__(self, rng: random.Random | None = None) -> None:
        self._faults: list[Fault] = []
        self._rng = rng or random.Random()
        self.served: Counter[int] = Counter()

    def add(self, fault: Fault) -> None:
        self._faults.append(fault)

    def clear(self) -> None:
        self._faults.clear()

    def list(self) -> list[Fault]:
        return list(self._faults)

    def take(self, path: str) -> Fault | None:
        """What happens to a request for ``path``: the summed latency of the faults that
        fire and the first error among them (each used up once), or None when none fires."""
        latency = 0.0
        error: Fault | None = None
        fired = False
        for fault in list(self._faults):
            if not path.startswith(fault.path_prefix):
                continue
            if fault.status is not None and error is not None:
                continue  # one error per request: this one is left for the next
            if fault.probability is not None and self._rng.random() >= fault.probability:
                continue
            fired = True
            latency += fault.latency_ms
            if fault.status is not None:
                error = fault
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
        if not fired:
            return None
        if error is not None:
            self.served[error.status or 0] += 1
            return replace(error, latency_ms=latency)
        return Fault(path, None, None, latency, None)


MAX_RAW_FRAMES = 200_000
COUNTER = "@N@"  # in a text frame: replaced by the repetition's number (0, 1, ...)


@dataclass(frozen=True)
class RawFrame:
    binary: bool
    data: bytes


def parse_raw_frames(body: Any) -> list[RawFrame]:
    """``{"frames": [{"text": ...} | {"binary_base64": ...}], "repeat": n}`` -> the frames,
    in order, ``repeat`` times (``@N@`` in a text numbered by repetition); or a 400."""
    if not isinstance(body, dict):
        raise bad_request("raw frames must be a JSON object")
    items = body.get("frames")
    if not isinstance(items, list) or not items:
        raise bad_request(
            'frames must be a non-empty list of {"text": ...} or {"binary_base64": ...}'
        )
    repeat = body.get("repeat", 1)
    if not isinstance(repeat, int) or isinstance(repeat, bool) or repeat < 1:
        raise bad_request(f"repeat must be a positive integer, got {repeat!r}")
    if len(items) * repeat > MAX_RAW_FRAMES:
        raise bad_request(f"at most {MAX_RAW_FRAMES} frames per call, asked {len(items) * repeat}")
    templates = [_raw_template(index, item) for index, item in enumerate(items)]
    frames = []
    for number in range(repeat):
        for binary, text, data in templates:
            if text is not None and COUNTER in text:
                data = text.replace(COUNTER, str(number)).encode()
            frames.append(RawFrame(binary, data))
    return frames


def _raw_template(index: int, item: Any) -> tuple[bool, str | None, bytes]:
    if isinstance(item, dict) and isinstance(item.get("text"), str):
        return False, item["text"], item["text"].encode()
    if isinstance(item, dict) and isinstance(item.get("binary_base64"), str):
        try:
            return True, None, base64.b64decode(item["binary_base64"], validate=True)
        except binascii.Error:
            raise bad_request(f"frames[{index}].binary_base64 is not base64") from None
    raise bad_request(f'frames[{index}] must be {{"text": str}} or {{"binary_base64": str}}')


def hostile_frames(channel: str, subscription_id: str, timestamp: str) -> dict[str, list[Any]]:
    """Frames Twitch never sends, by the refusal kind a client should count them under, in the
    control API's raw-frame form (``@N@`` numbers each repetition). Those shaped like a good
    notification name ``channel`` (a real subscription's) and unique message ids, so a client
    that let one through would show it in that channel's stream."""

    def notification(
        *,
        message_id: str = "hostile-@N@",
        stamp: str = timestamp,
        type_: str = "channel.update",
        version: str = "2",
        condition: Any = None,
        event: str = '{"broadcaster_user_id":"' + channel + '","title":"hostile"}',
    ) -> str:
        meta = {
            "message_id": message_id,
            "message_type": "notification",
            "message_timestamp": stamp,
            "subscription_type": type_,
            "subscription_version": version,
        }
        sub = {
            "id": subscription_id,
            "status": "enabled",
            "type": type_,
            "version": version,
            "cost": 0,
            "condition": {"broadcaster_user_id": channel} if condition is None else condition,
            "transport": {"method": "conduit", "conduit_id": "hostile"},
            "created_at": timestamp,
        }
        head = orjson.dumps({"metadata": meta}).decode()[:-1]
        return f'{head},"payload":{{"subscription":{orjson.dumps(sub).decode()},"event":{event}}}}}'

    def deep(levels: int) -> str:
        return "[" * levels + "]" * levels

    def binary(text: str) -> dict[str, str]:
        return {"binary_base64": base64.b64encode(text.encode()).decode()}

    offset_stamp = timestamp[:19] + "+00:00"  # a form only the parsed lane reads
    return {
        "not_json": [
            {"text": '{"metadata": {"message_id": "cut-@N@"'},
            {"text": "\u0000\u0001 not json at all @N@"},
            {"text": ""},
        ],
        "not_object": [{"text": "[1, 2, 3]"}, {"text": '"a string"'}, {"text": "null"}],
        "too_deep": [
            {"text": deep(2_000)},  # past both decoders' limits (about 1,000)
            {"text": notification(event='{"a":' + deep(2_000) + "}")},
            {"text": notification(stamp=offset_stamp, event='{"a":' + deep(300) + "}")},
        ],
        "malformed": [
            {"text": "{}"},
            {"text": notification(event="[1]")},
            {"text": notification().replace('"notification"', '"session_@N@"', 1)},
        ],
        "bad_timestamp": [
            {"text": notification(stamp="2026-02-30T10:00:00.123456789Z")},
            {"text": notification(stamp="2026-13-45T25:61:61Z")},
            {"text": notification(stamp="9999-99-99T99:99:99.999999999Z")},
        ],
        "binary_frame": [binary(notification()), {"binary_base64": "AAECAwQF/w=="}],
        "unknown_type": [
            {"text": notification(type_="hostile.type.@N@", version="1")},
            {"text": notification(version="9@N@")},
        ],
        "bad_channel_id": [
            {"text": notification(condition={"broadcaster_user_id": "\u0000"})},
            {"text": notification(condition={"broadcaster_user_id": "../../etc"})},
            {"text": notification(condition={"broadcaster_user_id": "9001\n"})},
            {"text": notification(condition={"broadcaster_user_id": "x@N@"})},
        ],
        "no_channel": [{"text": notification(condition={}, event='{"title":"no channel"}')}],
    }
