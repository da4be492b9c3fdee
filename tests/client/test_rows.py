from __future__ import annotations

from kiss.client.rows import raw_stream_reply

ENTRIES = [["1-0", ["kind", "gap", "event", "{}"]], ["2-0", None]]


def test_raw_replies_of_both_protocols_read_alike() -> None:
    expected = [("s", [("1-0", {"kind": "gap", "event": "{}"}), ("2-0", {})])]
    assert raw_stream_reply({"s": ENTRIES}) == expected  # RESP3
    assert raw_stream_reply([["s", ENTRIES]]) == expected  # RESP2
    assert raw_stream_reply(None) == []  # the block timed out
