"""The request/reply/outcome contract: each encodes and decodes back; bad requests are named."""

from __future__ import annotations

import orjson
import pytest

from kiss.contracts.bot_requests import (
    OPS,
    OUTCOME_FIELDS,
    REQUEST_FIELDS,
    STATUSES,
    Op,
    Outcome,
    Reply,
    Request,
    RequestError,
    Status,
    decode_outcome,
    decode_reply,
    decode_request,
    encode_outcome,
    encode_reply,
    encode_request,
)


def request_fields(op: Op = "subscribe") -> dict[str, str]:
    return encode_request(
        "r1", op, bot="b", channel_id="10", channel_name="ten", type="stream.online",
        version="1", condition={"broadcaster_user_id": "10"}, now=12.5,
    )  # fmt: skip


@pytest.mark.parametrize("op", OPS)
def test_every_op_round_trips(op: Op) -> None:
    fields = request_fields(op)
    assert tuple(fields) == REQUEST_FIELDS
    assert fields["ts"] == "12.5"
    assert decode_request(fields) == Request(
        "r1", op, "b", "10", "ten", "stream.online", "1", {"broadcaster_user_id": "10"}
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"request_id": ""}, "without request_id"),
        ({"op": "ping"}, "unknown op 'ping'"),
        ({"channel_id": ""}, "channel_id is missing"),
        ({"condition": "{oops"}, "condition is not JSON"),
        ({"condition": "[1]"}, "condition must be a JSON object"),
    ],
)
def test_bad_requests_are_named(change: dict[str, str], problem: str) -> None:
    with pytest.raises(RequestError, match=problem):
        decode_request({**request_fields(), **change})


def test_replies_round_trip() -> None:
    assert decode_reply(encode_reply(True)) == Reply(True, "")
    assert decode_reply(encode_reply(False, "missing scope")) == Reply(False, "missing scope")
    assert decode_reply(encode_reply(False)) == Reply(False, "refused")
    assert orjson.loads(encode_reply(False, "x")) == {"ok": False, "error": "x"}
    assert decode_reply(b"[1]").ok is False


@pytest.mark.parametrize("status", STATUSES)
def test_every_status_round_trips(status: Status) -> None:
    fields = encode_outcome(
        type="stream.online", version="1", status=status, reason="why", subscription_id="s1"
    )
    assert tuple(fields) == OUTCOME_FIELDS
    assert decode_outcome(fields) == Outcome("stream.online", "1", status, "why", "s1")


def test_a_missing_outcome_field_reads_as_empty() -> None:
    assert decode_outcome({"status": "active"}) == Outcome("", "", "active", "", "")
