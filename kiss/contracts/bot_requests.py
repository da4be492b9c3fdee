"""A bot's requests to the control plane, the replies, and the subscription outcomes (no I/O).

A request is an entry on ``Keys.control_requests()`` with the fields ``REQUEST_FIELDS``
(``encode_request`` / ``decode_request``); ``op`` is one of ``OPS``. workers/control.py
answers on ``Keys.control_reply(request_id)``: a list of one JSON ``{"ok", "error"}``
(``encode_reply`` / ``decode_reply``). What became of a subscription arrives later on
``Keys.subscription_outcomes(channel_id)``: an entry with the fields ``OUTCOME_FIELDS``,
``status`` one of ``STATUSES`` (``encode_outcome`` / ``decode_outcome``).

Only the standard library and orjson: the bot client imports it alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, NamedTuple

import orjson

from kiss.contracts.timestamps import epoch_text

# -- requests ---------------------------------------------------------------------------
Op = Literal["hello", "subscribe", "unsubscribe"]
HELLO: Final = "hello"
SUBSCRIBE: Final = "subscribe"
UNSUBSCRIBE: Final = "unsubscribe"
OPS: Final[tuple[Op, ...]] = (HELLO, SUBSCRIBE, UNSUBSCRIBE)

REQUEST_FIELDS: Final = (
    "request_id",
    "op",
    "bot",
    "channel_id",
    "channel_name",
    "type",
    "version",
    "condition",  # JSON object
    "ts",  # epoch seconds of the request, ``epoch_text``
)


class RequestError(ValueError):
    """A request that breaks this contract; the message names the faulty field."""


@dataclass(frozen=True)
class Request:
    request_id: str
    op: Op
    bot: str
    channel_id: str
    channel_name: str
    type: str
    version: str
    condition: dict[str, Any]


def encode_request(
    request_id: str,
    op: Op,
    *,
    bot: str,
    channel_id: str,
    channel_name: str,
    type: str = "",
    version: str = "",
    condition: Mapping[str, str] | None = None,
    now: float,
) -> dict[str, str]:
    """The fields of a request entry."""
    values = (
        request_id, op, bot, channel_id, channel_name, type, version,
        orjson.dumps(dict(condition or {})).decode(), epoch_text(now),
    )  # fmt: skip
    return dict(zip(REQUEST_FIELDS, values, strict=True))


def decode_request(fields: Mapping[str, str]) -> Request:
    """The request of one entry; RequestError naming the faulty field."""
    request_id = fields.get("request_id", "")
    if not request_id:
        raise RequestError("request without request_id")
    op = fields.get("op", "")
    if op not in OPS:
        raise RequestError(f"unknown op {op!r}; expected one of {', '.join(OPS)}")
    channel_id = fields.get("channel_id", "")
    if not channel_id:
        raise RequestError(f"{op}: channel_id is missing")
    try:
        condition = orjson.loads(fields.get("condition") or "{}")
    except orjson.JSONDecodeError as error:
        raise RequestError(f"{op}: condition is not JSON ({error})") from error
    if not isinstance(condition, dict):
        raise RequestError(f"{op}: condition must be a JSON object")
    return Request(
        request_id=request_id,
        op=op,
        bot=fields.get("bot", ""),
        channel_id=channel_id,
        channel_name=fields.get("channel_name", ""),
        type=fields.get("type", ""),
        version=fields.get("version", ""),
        condition=condition,
    )


# -- replies ----------------------------------------------------------------------------
class Reply(NamedTuple):
    ok: bool
    error: str  # why it was refused; "" when accepted


def encode_reply(ok: bool, error: str | None = None) -> bytes:
    """The answer to one request, pushed on its reply list."""
    return orjson.dumps({"ok": ok, "error": error})


def decode_reply(raw: bytes | str) -> Reply:
    """An answer as the bot reads it; anything but ``ok: true`` is a refusal."""
    answer = orjson.loads(raw)
    if not isinstance(answer, dict):
        return Reply(False, f"the control plane answered {str(raw)[:80]!r}")
    ok = bool(answer.get("ok"))
    return Reply(ok, "" if ok else str(answer.get("error") or "refused"))


# -- outcomes ---------------------------------------------------------------------------
Status = Literal["active", "failed", "revoked", "removed"]
ACTIVE: Final = "active"
FAILED: Final = "failed"
REVOKED: Final = "revoked"
REMOVED: Final = "removed"
STATUSES: Final[tuple[Status, ...]] = (ACTIVE, FAILED, REVOKED, REMOVED)

OUTCOME_FIELDS: Final = ("type", "version", "status", "reason", "subscription_id")


class Outcome(NamedTuple):
    """What became of a subscription, in ``OUTCOME_FIELDS`` order."""

    type: str
    version: str
    status: str  # one of STATUSES (an unknown one is passed on as it is)
    reason: str
    subscription_id: str


assert Outcome._fields == OUTCOME_FIELDS


def encode_outcome(
    *, type: str, version: str, status: Status, reason: str = "", subscription_id: str = ""
) -> dict[str, str]:
    """The fields of an outcome entry."""
    return dict(zip(OUTCOME_FIELDS, (type, version, status, reason, subscription_id), strict=True))


def decode_outcome(fields: Mapping[str, Any]) -> Outcome:
    """An outcome entry's values; a missing field reads as empty."""
    return Outcome(*(str(fields.get(name, "")) for name in OUTCOME_FIELDS))
