"""The Sans-I/O session machine, driven from tables of frames and times (no sockets)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from kiss.eventsub.messages import Notification, RawNotification, parse_message
from kiss.eventsub.session import (
    CloseSocket,
    Deliver,
    Dropped,
    Lost,
    OpenReconnect,
    Output,
    Phase,
    Revoke,
    SessionConfig,
    SessionMachine,
    Welcomed,
    describe_close,
)
from kiss.eventsub.timestamps import format_timestamp
from tests.waiting import TIME_UNIT

T0 = 1_800_000_000.0
CONFIG = SessionConfig(time_unit=1.0, keepalive_factor=1.5, slack_seconds=1.0)


def ts(epoch: float) -> str:
    return format_timestamp(int(epoch * 1_000_000_000))


def frame(kind: str, payload: dict[str, Any], *, at: float = T0, mid: str = "m") -> bytes:
    metadata: dict[str, Any] = {
        "message_id": mid,
        "message_type": kind,
        "message_timestamp": ts(at),
    }
    if kind in ("notification", "revocation"):
        metadata["subscription_type"] = "channel.follow"
        metadata["subscription_version"] = "2"
    return orjson.dumps({"metadata": metadata, "payload": payload})


def welcome(session_id: str = "S1", keepalive: int = 10, *, at: float = T0) -> bytes:
    session = {
        "id": session_id,
        "status": "connected",
        "connected_at": ts(at),
        "keepalive_timeout_seconds": keepalive,
        "reconnect_url": None,
        "recovery_url": None,
    }
    return frame("session_welcome", {"session": session}, at=at, mid=f"w-{session_id}-{at}")


def reconnect(url: str = "ws://x/ws?r=1", session_id: str = "S1") -> bytes:
    session = {
        "id": session_id,
        "status": "reconnecting",
        "connected_at": ts(T0),
        "keepalive_timeout_seconds": None,
        "reconnect_url": url,
    }
    return frame("session_reconnect", {"session": session}, mid="r")


SUB = {
    "id": "sub-1",
    "status": "enabled",
    "type": "channel.follow",
    "version": "2",
    "cost": 0,
    "condition": {"broadcaster_user_id": "42", "moderator_user_id": "42"},
    "transport": {"method": "websocket", "session_id": "S1"},
    "created_at": ts(T0),
}


def notification(mid: str, *, at: float = T0) -> bytes:
    return frame("notification", {"subscription": SUB, "event": {"n": mid}}, at=at, mid=mid)


def keepalive(at: float = T0) -> bytes:
    return frame("session_keepalive", {}, at=at, mid=f"k{at}")


def established(keepalive_s: int = 10) -> SessionMachine:
    machine = SessionMachine(CONFIG)
    machine.opened(1, T0)
    outputs = machine.receive(1, welcome(keepalive=keepalive_s), T0)
    assert outputs == [Welcomed("S1", keepalive_s, True, False, None)]
    return machine


def kinds(outputs: list[Output]) -> list[str]:
    return [type(output).__name__ for output in outputs]


def test_welcome_makes_the_session_active_with_a_keepalive_deadline() -> None:
    machine = established()
    assert machine.phase is Phase.ACTIVE
    assert machine.session_id == "S1"
    assert machine.deadline == pytest.approx(T0 + 10 * 1.5 + 1.0)


def test_no_welcome_in_the_window_loses_the_session() -> None:
    machine = SessionMachine(CONFIG)
    machine.opened(1, T0)
    assert machine.deadline == pytest.approx(T0 + 11.0)
    assert machine.tick(T0 + 10.9) == []
    outputs = machine.tick(T0 + 11.0)
    assert outputs == [CloseSocket(1), Lost("no session_welcome in time")]
    assert machine.phase is Phase.LOST


@pytest.mark.parametrize(
    ("frames", "silent_until", "lost"),
    [
        ([], 15.9, False),
        ([], 16.0, True),
        ([(5.0, "keepalive")], 20.9, False),
        ([(5.0, "keepalive")], 21.0, True),
        ([(12.0, "notification")], 27.9, False),
        ([(12.0, "notification")], 28.0, True),
    ],
)
def test_keepalive_watchdog_follows_the_last_message(
    frames: list[tuple[float, str]], silent_until: float, lost: bool
) -> None:
    machine = established()
    for offset, kind in frames:
        data = keepalive(T0 + offset) if kind == "keepalive" else notification("n", at=T0 + offset)
        machine.receive(1, data, T0 + offset)
    outputs = machine.tick(T0 + silent_until)
    assert (Lost("keepalive timeout (silence)") in outputs) is lost


def test_the_adapters_own_pause_of_the_reading_is_not_twitchs_silence() -> None:
    machine = established()  # deadline T0 + 16
    machine.paused(T0 + 5)
    assert machine.deadline is None
    assert machine.tick(T0 + 100) == []  # not reading: silence cannot be measured
    machine.paused(T0 + 100)  # a second socket paused too (a handover)
    machine.resumed(T0 + 100)
    assert machine.tick(T0 + 200) == []
    machine.resumed(T0 + 200)
    assert machine.deadline == pytest.approx(T0 + 216)  # a whole window from the resume
    assert machine.tick(T0 + 215.9) == []
    assert Lost("keepalive timeout (silence)") in machine.tick(T0 + 216)


def test_a_short_pause_does_not_shorten_the_window() -> None:
    machine = established()
    machine.receive(1, keepalive(T0 + 10), T0 + 10)  # deadline T0 + 26
    machine.paused(T0 + 11)
    machine.resumed(T0 + 11.5)
    assert machine.deadline == pytest.approx(T0 + 27.5)


def test_time_unit_scales_the_protocol_durations() -> None:
    machine = SessionMachine(
        SessionConfig(time_unit=TIME_UNIT, keepalive_factor=1.5, slack_seconds=0.1)
    )
    machine.opened(1, T0)
    assert machine.deadline == pytest.approx(T0 + 10 * TIME_UNIT + 0.1)
    machine.receive(1, welcome(), T0)
    assert machine.deadline == pytest.approx(T0 + 10 * 1.5 * 0.02 + 0.1)


def test_malformed_frames_are_dropped_with_the_problem_named() -> None:
    machine = established()
    outputs = machine.receive(1, b"{not json", T0 + 1)
    assert isinstance(outputs[0], Dropped) and "not JSON" in outputs[0].reason
    assert machine.phase is Phase.ACTIVE


def test_revocation_is_passed_on() -> None:
    machine = established()
    sub = {**SUB, "status": "authorization_revoked"}
    outputs = machine.receive(1, frame("revocation", {"subscription": sub}, mid="rv"), T0 + 1)
    assert isinstance(outputs[0], Revoke)
    assert outputs[0].message.subscription.status == "authorization_revoked"


@pytest.mark.parametrize("new_id", ["S1", "S2"])
def test_reconnect_keeps_the_old_socket_until_the_new_welcome(new_id: str) -> None:
    machine = established()
    assert machine.receive(1, reconnect("ws://edge/ws?id=S1"), T0 + 1) == [
        OpenReconnect("ws://edge/ws?id=S1")
    ]
    assert machine.phase is Phase.HANDOVER
    before = machine.awaiting_reconnect_socket
    machine.opened(2, T0 + 1.1)
    assert (before, machine.awaiting_reconnect_socket) == (True, False)
    # The old socket keeps delivering until the new welcome.
    assert kinds(machine.receive(1, notification("old"), T0 + 1.2)) == ["Deliver"]
    outputs = machine.receive(2, welcome(new_id, at=T0 + 1.3), T0 + 1.3)
    assert outputs == [Welcomed(new_id, 10, False, new_id != "S1", None), CloseSocket(1, 1000)]
    assert machine.primary == 2
    assert machine.phase.value == "active"
    assert kinds(machine.receive(2, notification("new"), T0 + 1.4)) == ["Deliver"]
    # Whatever the old socket still had buffered is still delivered, then its close is ignored.
    assert kinds(machine.receive(1, notification("late"), T0 + 1.5)) == ["Deliver"]
    assert kinds(machine.receive(1, keepalive(T0 + 1.5), T0 + 1.5)) == ["Dropped"]
    assert machine.closed(1, 1000, "", T0 + 1.6) == []
    assert kinds(machine.receive(1, notification("after-close"), T0 + 1.7)) == ["Dropped"]
    assert machine.phase.value == "active"


def test_old_socket_closing_first_does_not_end_the_handover() -> None:
    machine = established()
    machine.receive(1, reconnect(), T0 + 1)
    machine.opened(2, T0 + 1.1)
    assert machine.closed(1, 4004, "", T0 + 2) == []
    outputs = machine.receive(2, welcome(at=T0 + 3), T0 + 3)
    assert kinds(outputs) == ["Welcomed"]


def test_reconnect_socket_failure_loses_the_session_with_a_gap() -> None:
    machine = established()
    machine.receive(1, notification("a", at=T0 + 2), T0 + 2)
    machine.receive(1, reconnect(), T0 + 3)
    outputs = machine.reconnect_failed("refused", T0 + 3.5)
    assert outputs == [CloseSocket(1), Lost("reconnect_url failed: refused")]
    machine.opened(3, T0 + 5)
    again = machine.receive(3, welcome("S9", at=T0 + 6), T0 + 6)
    assert isinstance(again[0], Welcomed) and again[0].fresh and again[0].gap is not None
    assert again[0].gap.start == T0 + 3 and again[0].gap.end == T0 + 6


def test_handover_times_out_after_the_grace_period() -> None:
    machine = established()
    machine.receive(1, reconnect(), T0)
    machine.opened(2, T0)
    for second in range(1, 31, 5):  # keepalives on the old socket keep the watchdog quiet
        machine.receive(1, keepalive(T0 + second), T0 + second)
    assert machine.tick(T0 + 30.9) == []
    outputs = machine.tick(T0 + 31.0)
    assert kinds(outputs) == ["CloseSocket", "CloseSocket", "Lost"]


@pytest.mark.parametrize("code", [4000, 4001, 4002, 4003, 4004, 4005, 4006, 4007, 1006, None])
def test_every_close_code_loses_the_session_and_names_the_cause(code: int | None) -> None:
    machine = established()
    machine.receive(1, notification("a", at=T0 + 4), T0 + 4)
    outputs = machine.closed(1, code, "", T0 + 5)
    assert len(outputs) == 1 and isinstance(outputs[0], Lost)
    assert outputs[0].code == code
    assert outputs[0].reason == describe_close(code)
    machine.opened(2, T0 + 6)
    welcomed = machine.receive(2, welcome("S2", at=T0 + 7), T0 + 7)[0]
    assert isinstance(welcomed, Welcomed) and welcomed.gap is not None
    assert (welcomed.gap.start, welcomed.gap.end) == (T0 + 4, T0 + 7)
    assert welcomed.gap.reason == describe_close(code)


def test_every_close_code_has_advice() -> None:
    from kiss.eventsub.session import CLOSE_ADVICE, CLOSE_CODES

    assert set(CLOSE_ADVICE) == set(CLOSE_CODES) == set(range(4000, 4008))


def test_close_code_descriptions() -> None:
    assert (
        describe_close(4003) == "4003 connection unused (no subscription or shard binding in time)"
    )
    assert describe_close(4007, "bad url") == "4007 invalid reconnect attempt (bad url)"
    assert describe_close(None) == "connection lost"
    assert describe_close(1011, "boom") == "1011 (boom)"


def test_a_restart_carries_the_gap_from_the_last_run() -> None:
    machine = SessionMachine(CONFIG, gap_from=T0 - 50)
    machine.opened(1, T0)
    welcomed = machine.receive(1, welcome(), T0)[0]
    assert isinstance(welcomed, Welcomed)
    assert welcomed.gap is not None and welcomed.gap.start == T0 - 50


def test_frames_buffered_on_a_lost_socket_are_still_delivered() -> None:
    machine = established()
    machine.tick(T0 + 100)
    assert machine.phase is Phase.LOST
    assert kinds(machine.receive(1, notification("buffered", at=T0 + 1), T0 + 100)) == ["Deliver"]
    assert kinds(machine.receive(1, notification("old", at=T0 - 700), T0 + 100)) == ["Dropped"]
    assert machine.closed(1, 1006, "", T0 + 100) == []


def test_first_ever_session_has_no_gap() -> None:
    machine = established()
    machine.closed(1, 4005, "", T0 + 1)
    assert machine.phase is Phase.LOST


def test_frames_from_unknown_sockets_and_unexpected_messages_are_dropped() -> None:
    machine = established()
    assert kinds(machine.receive(7, notification("x"), T0)) == ["Dropped"]
    assert kinds(machine.receive(1, welcome(), T0 + 1)) == ["Dropped"]
    machine2 = SessionMachine(CONFIG)
    machine2.opened(1, T0)
    assert kinds(machine2.receive(1, reconnect(), T0)) == ["Dropped"]
    assert machine.closed(7, 1000, "", T0) == []


def test_abandon_gives_the_session_up_once() -> None:
    machine = established()
    outputs = machine.abandon("shard would not bind", T0 + 1)
    assert outputs == [CloseSocket(1), Lost("shard would not bind")]
    assert machine.abandon("again", T0 + 2) == []


def test_a_malformed_frame_is_dropped_with_its_kind() -> None:
    machine = established()
    deep = b"[" * 5000 + b"]" * 5000
    kinds = [machine.receive(1, frame, T0 + 1) for frame in (b"{x", b"[1]", deep, b"{}")]
    assert [[out.kind for out in outs if isinstance(out, Dropped)] for outs in kinds] == [
        ["not_json"],
        ["not_object"],
        ["too_deep"],
        ["malformed"],
    ]


def test_stale_check_handles_offsets_and_short_forms() -> None:
    machine = established()
    base = orjson.loads(notification("x"))
    for stamp, stale in [
        ("2020-01-01T00:00:00Z", True),
        (ts(T0 - 599), False),
        ("2027-01-15T10:00:00+02:00", False),
        ("2020-01-01T02:00:00+02:00", True),
    ]:
        base["metadata"]["message_timestamp"] = stamp
        base["metadata"]["message_id"] = stamp
        outputs = machine.receive(1, orjson.dumps(base), T0)
        assert kinds(outputs) == (["Dropped"] if stale else ["Deliver"]), stamp


# -- notifications, from a table ---------------------------------------------------------------


def changed(data: bytes, change: Any) -> bytes:
    raw = orjson.loads(data)
    change(raw)
    return orjson.dumps(raw)


def events_form(raw: dict[str, Any]) -> None:
    raw["payload"]["events"] = [{"id": "e1", "data": raw["payload"].pop("event")}]


def stamped(stamp: str) -> bytes:
    return changed(FRESH, lambda raw: raw["metadata"].update(message_timestamp=stamp))


FRESH = notification("n", at=T0 + 5)
STALE = notification("n", at=T0 - 601)
IMPOSSIBLE_TIME = stamped("2026-13-45T25:61:61Z")
WHOLE_SECOND = stamped(ts(T0 + 5)[:19] + "Z")  # Twitch's form without a fraction
WHOLE_SECOND_STALE = stamped(ts(T0 - 601)[:19] + "Z")
OFFSET_TIME = stamped(ts(T0 + 5)[:19] + "+00:00")  # not Twitch's form: parsed
OFFSET_STALE = stamped("2020-01-01T02:00:00+02:00")
EVENTS = changed(FRESH, events_form)
EVENT_NOT_AN_OBJECT = changed(FRESH, lambda raw: raw["payload"].update(event=[1]))
NO_EVENT = changed(FRESH, lambda raw: raw["payload"].pop("event"))
NO_TYPE = changed(FRESH, lambda raw: raw["metadata"].pop("subscription_type"))
NO_BROADCASTER = changed(FRESH, lambda raw: raw["payload"]["subscription"].update(condition={}))


def on(state: str) -> SessionMachine:
    """A machine whose socket 1 is: ``primary`` (established), ``pending`` (the reconnect
    socket of a handover, welcome not yet read), ``draining`` (let go after a handover),
    ``lost`` (the session lost, its socket still read) or ``closed`` (let go and closed)."""
    machine = established()
    if state == "primary":
        return machine
    if state == "pending":
        machine = SessionMachine(CONFIG)
        machine.opened(9, T0)
        machine.receive(9, welcome(), T0)
        machine.receive(9, reconnect(), T0)
        machine.opened(1, T0)
    elif state in ("draining", "closed"):
        machine.receive(1, reconnect(), T0)
        machine.opened(2, T0)
        machine.receive(2, welcome(), T0)
        if state == "closed":
            machine.closed(1, 1000, "", T0)
    elif state == "lost":
        machine.tick(T0 + 100)
    return machine


def delivered(outputs: list[Output]) -> tuple[str, ...]:
    """An output list in a word or two: the form delivered and its message id, or why not."""
    assert len(outputs) == 1, outputs
    output = outputs[0]
    if isinstance(output, Deliver):
        message = output.message
        if isinstance(message, RawNotification):
            return ("raw", message.message_id)
        assert isinstance(message, Notification)
        return ("parsed", message.metadata.message_id)
    assert isinstance(output, Dropped)
    return ("dropped", output.reason.split(":")[0], str(output.kind), str(output.message_id))


OLDER = "message older than 600 s"
NOT_IN_USE = "frame from a socket that is no longer in use"


MALFORMED = ("dropped", "malformed frame", "malformed", "None")


@pytest.mark.parametrize(
    ("state", "data", "outcome", "heard"),
    [
        pytest.param("primary", FRESH, ("raw", "n"), True, id="fresh"),
        pytest.param("primary", STALE, ("dropped", OLDER, "None", "n"), True, id="stale"),
        pytest.param("pending", FRESH, ("raw", "n"), True, id="on-the-reconnect-socket"),
        pytest.param("draining", FRESH, ("raw", "n"), False, id="draining"),
        pytest.param("draining", STALE, ("dropped", OLDER, "None", "n"), False, id="drain-stale"),
        pytest.param("lost", FRESH, ("raw", "n"), False, id="buffered-on-a-lost-socket"),
        pytest.param("closed", FRESH, ("dropped", NOT_IN_USE, "None", "n"), False, id="old-socket"),
        pytest.param(
            "primary",
            IMPOSSIBLE_TIME,
            ("dropped", "malformed frame", "bad_timestamp", "None"),
            False,
            id="malformed-timestamp",
        ),
        pytest.param("primary", WHOLE_SECOND, ("raw", "n"), True, id="whole-second"),
        pytest.param(
            "primary", WHOLE_SECOND_STALE, ("dropped", OLDER, "None", "n"), True, id="whole-stale"
        ),
        pytest.param("primary", OFFSET_TIME, ("parsed", "n"), True, id="offset-timestamp"),
        pytest.param(
            "primary", OFFSET_STALE, ("dropped", OLDER, "None", "n"), True, id="offset-stale"
        ),
        pytest.param("primary", EVENTS, ("parsed", "n"), True, id="events-form"),
        pytest.param("draining", EVENTS, ("parsed", "n"), False, id="events-draining"),
        pytest.param(
            "closed", EVENTS, ("dropped", NOT_IN_USE, "None", "None"), False, id="events-old-socket"
        ),
        pytest.param("primary", EVENT_NOT_AN_OBJECT, MALFORMED, False, id="event-not-an-object"),
        pytest.param("primary", NO_TYPE, MALFORMED, False, id="metadata-incomplete"),
        pytest.param("draining", NO_EVENT, MALFORMED, False, id="no-event-draining"),
        pytest.param("primary", NO_BROADCASTER, ("raw", "n"), True, id="no-broadcaster"),
    ],
)
def test_a_notification_is_delivered_or_dropped_by_its_socket_time_and_shape(
    state: str, data: bytes, outcome: tuple[str, ...], heard: bool
) -> None:
    machine = on(state)
    before = (machine.last_message_at, machine.deadline)
    assert delivered(machine.receive(1, data, T0 + 5)) == outcome
    after = (machine.last_message_at, machine.deadline)
    if heard:  # Twitch's activity: the silence deadline moves on
        assert after == (T0 + 5, T0 + 5 + 10 * 1.5 + 1.0)
    else:
        assert after == before


def test_the_raw_form_carries_the_event_as_sent_and_parses_to_the_same_message() -> None:
    machine = established()
    data = FRESH.replace(b'"event":{"n":"n"}', b'"event": {"n": "n", "x": 1.50}')
    (output,) = machine.receive(1, data, T0 + 5)
    assert isinstance(output, Deliver) and isinstance(output.message, RawNotification)
    assert output.message.event == b'{"n": "n", "x": 1.50}'  # not re-encoded
    assert output.message.parsed() == parse_message(data)


def test_frames_of_one_read_share_the_time_and_the_deadline_still_follows() -> None:
    machine = established()
    read = [notification("r0", at=T0 + 5), STALE, notification("r2", at=T0 + 4), WHOLE_SECOND_STALE]
    outcomes = [delivered(machine.receive(1, data, T0 + 5)) for data in read]
    assert outcomes == [
        ("raw", "r0"),
        ("dropped", OLDER, "None", "n"),
        ("raw", "r2"),
        ("dropped", OLDER, "None", "n"),
    ]
    assert machine.deadline == T0 + 5 + 16
    machine.receive(1, notification("later", at=T0 + 6), T0 + 6)
    assert machine.deadline == T0 + 6 + 16
