"""The EventSub WebSocket session as a Sans-I/O state machine (twitch-eventsub.md §1).

Text frames, socket events and the time go in; outputs come out: messages to route,
and actions for the adapter (open the reconnect URL, close a socket, start over).
The machine never touches a socket or a clock, so the listener, the tests and the
simulator's checks drive the same logic.

``receive`` is the one way a frame enters, and the machine decodes it itself
(``kiss/eventsub/messages.py``): the hot path's decoder for a notification in Twitch's
shape, whose ``Deliver`` carries a ``RawNotification`` (its event the JSON Twitch sent),
the full parser for any other frame.

One ``SessionMachine`` follows one logical session across ``session_reconnect``
handovers. The adapter names each socket with an integer of its choice (``conn``).

    CONNECTING --welcome--> ACTIVE --session_reconnect--> HANDOVER --new welcome--> ACTIVE
        |                     |                              |
        +------ silence, close, timeout ----> LOST <---------+

Time: ``now`` is epoch seconds (Twitch's timestamps are compared with it). Protocol
durations (keepalive, 10 s windows, the 30 s reconnect grace) are multiplied by
``time_unit``, so a simulator running at 1/50 of real time is followed at that speed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import msgspec

from kiss.errors import MalformedMessage
from kiss.eventsub.messages import (
    Keepalive,
    Notification,
    NotificationDecoder,
    RawFrame,
    RawNotification,
    Reconnect,
    Revocation,
    Welcome,
    parse_message,
)
from kiss.eventsub.timestamps import format_timestamp, parse_timestamp

# Close codes of the EventSub WebSocket (§1.5): code -> (reason, what it means for us).
CLOSE_CODES: dict[int, str] = {
    4000: "internal server error",
    4001: "client sent inbound traffic",
    4002: "client failed ping-pong",
    4003: "connection unused (no subscription or shard binding in time)",
    4004: "reconnect grace time expired",
    4005: "network timeout",
    4006: "network error",
    4007: "invalid reconnect attempt",
}

# What each code tells the operator; every one of them ends in a fresh session (with backoff),
# subscriptions recreated (websocket) or the shard rebound (conduit).
CLOSE_ADVICE: dict[int, str] = {
    4000: "Twitch-side fault; reconnecting",
    4001: "this client sent a frame other than a pong: a bug in the client",
    4002: "pongs were late: is the event loop blocked?",
    4003: "nothing subscribed or bound within 10 s: is the control plane (Celery worker) up?",
    4004: "the reconnect_url was not dialled within 30 s",
    4005: "network timeout; reconnecting",
    4006: "network error; reconnecting",
    4007: "the reconnect URL was refused; starting a fresh session on the base URL",
}

RECONNECT_GRACE_SECONDS = 30.0  # Twitch closes the old socket 30 s after session_reconnect
WELCOME_WINDOW_SECONDS = 10.0
MAX_MESSAGE_AGE_SECONDS = 600.0  # replay guard: older messages are dropped (§1.6)
_NOT_IN_USE = "frame from a socket that is no longer in use"


class Phase(enum.Enum):
    CONNECTING = "connecting"
    ACTIVE = "active"
    HANDOVER = "handover"
    LOST = "lost"


@dataclass(frozen=True, slots=True)
class SessionConfig:
    time_unit: float = 1.0
    """Real seconds per protocol second (1.0 against Twitch; smaller against the simulator)."""
    keepalive_factor: float = 1.5
    """Silence tolerated, as a multiple of the welcome's keepalive_timeout_seconds."""
    slack_seconds: float = 1.0
    """Real seconds added to every deadline, for network and scheduling delays."""
    max_message_age: float = MAX_MESSAGE_AGE_SECONDS
    """Real seconds after which a message is a replay and is dropped."""


# -- outputs -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Gap:
    """Messages may have been missed between ``start`` (last message) and ``end`` (welcome)."""

    start: float
    end: float
    reason: str


@dataclass(frozen=True, slots=True)
class Welcomed:
    """A welcome was accepted. ``fresh``: a new session (subscriptions or shard must be set up);
    otherwise a handover, where ``session_changed`` says whether the id changed."""

    session_id: str
    keepalive_seconds: int
    fresh: bool
    session_changed: bool
    gap: Gap | None


class Deliver(msgspec.Struct, frozen=True, gc=False):
    """A notification to route: ``RawNotification`` for Twitch's single-event shape (the hot
    path's), ``Notification`` for any other. A msgspec struct, as the machine builds one per
    event: a frozen dataclass costs 0.25 µs more to build."""

    message: Notification | RawNotification


@dataclass(frozen=True, slots=True)
class Revoke:
    message: Revocation


@dataclass(frozen=True, slots=True)
class Dropped:
    """A frame that was not routed: ``reason`` says why (stale, malformed, unexpected).
    ``kind``: the refusal's kind in a word when the frame itself is at fault (counted, and
    logged at most once a minute); None for the protocol's own drops (a replay, an old socket).
    ``message_id``: the notification's, when a notification is dropped."""

    reason: str
    kind: str | None = None
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class OpenReconnect:
    """Open a second socket to ``url`` (unmodified) and report it with ``opened``."""

    url: str


@dataclass(frozen=True, slots=True)
class CloseSocket:
    conn: int
    code: int = 1000


@dataclass(frozen=True, slots=True)
class Lost:
    """The session is gone: close every socket of it and connect afresh (with backoff)."""

    reason: str
    code: int | None = None


Output = Welcomed | Deliver | Revoke | Dropped | OpenReconnect | CloseSocket | Lost


def describe_close(code: int | None, reason: str = "") -> str:
    """A log-friendly description of a close code."""
    if code is None:
        return reason or "connection lost"
    known = CLOSE_CODES.get(code)
    text = f"{code} {known}" if known else str(code)
    return f"{text} ({reason})" if reason and reason != known else text


class SessionMachine:
    """One EventSub session, including its reconnect handovers."""

    def __init__(self, config: SessionConfig, *, gap_from: float | None = None) -> None:
        self.config = config
        self.phase = Phase.LOST
        self.session_id: str | None = None
        self.keepalive_seconds: int | None = None
        self.primary: int | None = None
        self.pending: int | None = None
        # Sockets let go (old one after a handover, or a lost one) whose buffered frames
        # are still read: a notification already sent by Twitch is never thrown away.
        self.draining: set[int] = set()
        self.last_message_at: float | None = gap_from
        self._gap_from = gap_from
        self._lost_reason = "process restart"
        self._deadline: float | None = None
        self._handover_deadline: float | None = None
        self._pauses = 0  # sockets the adapter stopped reading (its own backpressure)
        self._awaiting_reconnect_socket = False
        self._cutoff_second = -1
        self._heard_at = -1.0
        self._cutoff_text = ""
        self._decode = NotificationDecoder().decode
        self._too_old_reason = f"message older than {config.max_message_age:.0f} s"

    # -- inputs ---------------------------------------------------------------------------

    @property
    def deadline(self) -> float | None:
        """When ``tick`` must next be called, or None."""
        silence = self._deadline if not self._pauses else None
        candidates = [d for d in (silence, self._handover_deadline) if d is not None]
        return min(candidates) if candidates else None

    def paused(self, now: float) -> None:
        """The adapter stopped reading a socket: what it does not read is not Twitch's
        silence, so the keepalive (and welcome) deadline waits until ``resumed``."""
        self._pauses += 1

    def resumed(self, now: float) -> None:
        """Reading again: Twitch gets a whole silence window from now (the frames it sent
        meanwhile are read at once and move the deadline on)."""
        self._pauses = max(0, self._pauses - 1)
        if self._pauses or self._deadline is None:
            return
        if self.phase is Phase.CONNECTING:
            window = WELCOME_WINDOW_SECONDS
        elif self.keepalive_seconds is not None:
            window = self.keepalive_seconds * self.config.keepalive_factor
        else:
            return
        self._deadline = max(self._deadline, now + self._protocol(window))

    @property
    def awaiting_reconnect_socket(self) -> bool:
        """True between OpenReconnect and the ``opened`` call for that socket."""
        return self._awaiting_reconnect_socket and self.phase is Phase.HANDOVER

    def opened(self, conn: int, now: float) -> list[Output]:
        """A socket is open: the first one of a fresh connect, or the reconnect_url one."""
        if self._awaiting_reconnect_socket and self.phase is Phase.HANDOVER:
            self._awaiting_reconnect_socket = False
            self.pending = conn
            return []
        self.phase = Phase.CONNECTING
        self.primary = conn
        self.pending = None
        self._pauses = 0  # a fresh session: the pauses of the lost one's sockets are moot
        self.session_id = None
        self._handover_deadline = None
        self._deadline = now + self._protocol(WELCOME_WINDOW_SECONDS)
        return []

    def reconnect_failed(self, reason: str, now: float) -> list[Output]:
        """The reconnect_url socket could not be opened."""
        if self.phase is not Phase.HANDOVER:
            return []
        return self._lose(f"reconnect_url failed: {reason}", None, now)

    def receive(self, conn: int, frame: RawFrame, now: float) -> list[Output]:
        """A text frame read from socket ``conn``. A notification in Twitch's single-event
        shape takes the hot path's decoder; any other frame is parsed in full."""
        message = self._decode(frame)
        if message is None:
            return self._parsed(conn, frame, now)
        if conn == self.primary or conn == self.pending:
            self.last_message_at = now
            if now != self._heard_at:  # the frames of one network read share ``now``
                self._heard(now)
        elif conn not in self.draining:  # a draining socket's events count, its silence not
            return [Dropped(_NOT_IN_USE, None, message.message_id)]
        # ``_stale``, inline: the decoder checked the timestamp to be in Twitch's form
        stamp = message.message_timestamp
        if int(now) != self._cutoff_second or len(stamp) == 20:
            stale = self._stale(stamp, now)
        else:
            stale = stamp[:19] < self._cutoff_text
        if stale:
            return [Dropped(self._too_old_reason, None, message.message_id)]
        return [Deliver(message)]

    def closed(self, conn: int, code: int | None, reason: str, now: float) -> list[Output]:
        """A socket closed (by the server, the network, or us)."""
        if conn in self.draining:
            self.draining.discard(conn)
            return []
        if conn == self.pending:
            self.pending = None
            return self._lose(f"reconnect socket closed: {describe_close(code, reason)}", code, now)
        if conn != self.primary:
            return []  # a socket we had already let go, e.g. the old one after a handover
        self.primary = None
        if self.phase is Phase.HANDOVER:
            # Twitch may close the old socket first (4004); the new one carries the session.
            return []
        return self._lose(describe_close(code, reason), code, now)

    def abandon(self, reason: str, now: float) -> list[Output]:
        """Give the session up on the adapter's decision (e.g. its shard would not bind)."""
        if self.phase is Phase.LOST:
            return []
        return self._lose(reason, None, now)

    def tick(self, now: float) -> list[Output]:
        """Check the deadlines; call when ``deadline`` has passed."""
        if self._handover_deadline is not None and now >= self._handover_deadline:
            return self._lose("no welcome on the reconnect_url socket in time", None, now)
        if self._deadline is None or now < self._deadline or self._pauses:
            return []
        if self.phase is Phase.CONNECTING:
            return self._lose("no session_welcome in time", None, now)
        return self._lose("keepalive timeout (silence)", None, now)

    # -- internals ------------------------------------------------------------------------

    def _parsed(self, conn: int, frame: RawFrame, now: float) -> list[Output]:
        if conn in self.draining:
            return self._drain(frame, now)
        if conn not in (self.primary, self.pending):
            return [Dropped(_NOT_IN_USE)]
        try:
            message = parse_message(frame)
        except MalformedMessage as error:
            return [Dropped(f"malformed frame: {error}", error.kind)]
        self.last_message_at = now
        if isinstance(message, Notification):
            self._heard(now)
            if self._stale(message.metadata.message_timestamp, now):
                return [Dropped(self._too_old_reason, None, message.metadata.message_id)]
            return [Deliver(message)]
        if isinstance(message, Keepalive):
            self._heard(now)
            return []
        if isinstance(message, Welcome):
            return self._welcome(conn, message, now)
        if isinstance(message, Reconnect):
            return self._reconnect(conn, message, now)
        self._heard(now)
        return [Revoke(message)]

    def _drain(self, frame: RawFrame, now: float) -> list[Output]:
        try:
            message = parse_message(frame)
        except MalformedMessage as error:
            return [Dropped(f"malformed frame: {error}", error.kind)]
        if isinstance(message, Notification):
            if self._stale(message.metadata.message_timestamp, now):
                return [Dropped(self._too_old_reason, None, message.metadata.message_id)]
            return [Deliver(message)]
        if isinstance(message, Revocation):
            return [Revoke(message)]
        return [Dropped(f"{message.metadata.message_type} on a socket being closed")]

    def _stale(self, timestamp: str, now: float) -> bool:
        """Older than the replay window? UTC timestamps in Twitch's form compare as text, to
        the second, against a cutoff rebuilt once a second; any other form is parsed."""
        second = int(now)
        if second != self._cutoff_second:
            self._cutoff_second = second
            cutoff_ns = int((now - self.config.max_message_age) * 1_000_000_000)
            self._cutoff_text = format_timestamp(cutoff_ns)[:19]
        if len(timestamp) > 20 and timestamp[-1] in "Zz" and timestamp[19] in ".Zz":
            return timestamp[:19] < self._cutoff_text
        return now - parse_timestamp(timestamp) > self.config.max_message_age

    def _protocol(self, seconds: float) -> float:
        return seconds * self.config.time_unit + self.config.slack_seconds

    def _heard(self, now: float) -> None:
        self._heard_at = now
        if self.keepalive_seconds is not None and self.phase is not Phase.CONNECTING:
            silence = self.keepalive_seconds * self.config.keepalive_factor
            self._deadline = now + self._protocol(silence)

    def _welcome(self, conn: int, message: Welcome, now: float) -> list[Output]:
        keepalive = message.session.keepalive_timeout_seconds or 10
        if conn == self.pending and self.phase is Phase.HANDOVER:
            old = self.primary
            changed = message.session.id != self.session_id
            self.primary, self.pending = conn, None
            self.phase = Phase.ACTIVE
            self.session_id = message.session.id
            self.keepalive_seconds = keepalive
            self._handover_deadline = None
            self._heard(now)
            outputs: list[Output] = [Welcomed(message.session.id, keepalive, False, changed, None)]
            if old is not None:
                self.draining.add(old)
                outputs.append(CloseSocket(old, 1000))
            return outputs
        if conn == self.primary and self.phase is Phase.CONNECTING:
            self.phase = Phase.ACTIVE
            self.session_id = message.session.id
            self.keepalive_seconds = keepalive
            self._heard(now)
            gap = None
            if self._gap_from is not None:
                gap = Gap(self._gap_from, now, self._lost_reason)
                self._gap_from = None
            return [Welcomed(message.session.id, keepalive, True, False, gap)]
        self._heard(now)
        return [Dropped("unexpected session_welcome on an established session")]

    def _reconnect(self, conn: int, message: Reconnect, now: float) -> list[Output]:
        self._heard(now)
        if conn != self.primary or self.phase is not Phase.ACTIVE:
            return [Dropped("session_reconnect outside an established session")]
        assert message.session.reconnect_url is not None  # parse_message guarantees it
        self.phase = Phase.HANDOVER
        self._awaiting_reconnect_socket = True
        self._handover_deadline = now + self._protocol(RECONNECT_GRACE_SECONDS)
        return [OpenReconnect(message.session.reconnect_url)]

    def _lose(self, reason: str, code: int | None, now: float) -> list[Output]:
        sockets = [c for c in (self.primary, self.pending) if c is not None]
        had_session = self.session_id is not None or self._gap_from is not None
        if had_session and self._gap_from is None:
            self._gap_from = self.last_message_at if self.last_message_at is not None else now
        self._lost_reason = reason
        self.phase = Phase.LOST
        self.primary = self.pending = None
        self.session_id = None
        self._deadline = self._handover_deadline = None
        self._awaiting_reconnect_socket = False
        self.draining.update(sockets)
        outputs: list[Output] = [CloseSocket(c, 1000) for c in sockets]
        outputs.append(Lost(reason, code))
        return outputs
