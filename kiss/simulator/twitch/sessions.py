"""WebSocket session lifecycle rules: welcome, reconnect handover, close, subscribe window."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field

from kiss.simulator.twitch.clock import timestamp
from kiss.simulator.twitch.model import (
    CLIENT_CLOSED_STATUS,
    CLOSE_STATUS,
    Conduit,
    Session,
    Shard,
    Subscription,
)
from kiss.simulator.twitch.world import SimulatorState


class InvalidReconnect(Exception):
    """A reconnect URL that is unknown, already used, or past its grace: close with 4007."""


def new_session_id() -> str:
    # Shaped like Twitch's: base64 whose tail names the edge cell.
    return base64.urlsafe_b64encode(secrets.token_bytes(12) + b"\x00simcell-a").decode().rstrip("=")


def open_session(state: SimulatorState, keepalive: int, now: float) -> Session:
    session = Session(
        id=new_session_id(), keepalive=keepalive, connected_at=timestamp(now), opened=now
    )
    state.sessions[session.id] = session
    return session


def begin_reconnect(state: SimulatorState, session_id: str, now: float) -> str:
    """Mark a session as reconnecting; the reconnect id its new socket must present."""
    session = state.sessions.get(session_id)
    if session is None or not session.live:
        raise KeyError(session_id)
    session.status = "reconnecting"
    session.reconnect_id = secrets.token_urlsafe(16)
    session.reconnect_deadline = now + state.seconds(state.config.reconnect_grace)
    return session.reconnect_id


def accept_reconnect(state: SimulatorState, reconnect_id: str, now: float) -> Session:
    """The session a reconnect URL hands over; subscriptions and id carry over unchanged."""
    for session in state.sessions.values():
        if session.reconnect_id == reconnect_id and session.status == "reconnecting":
            if session.reconnect_deadline is not None and now > session.reconnect_deadline:
                break
            session.status = "connected"
            session.reconnect_id = None
            session.reconnect_deadline = None
            return session
    raise InvalidReconnect(reconnect_id)


def unused_past_window(state: SimulatorState, session: Session, now: float) -> bool:
    """True when no subscription (or shard binding) came within the subscribe window: 4003."""
    deadline = session.opened + state.seconds(state.config.subscribe_window)
    return session.live and not session.used and now >= deadline


@dataclass
class Ended:
    """What closing a session disabled."""

    subscriptions: list[Subscription] = field(default_factory=list)
    shards: list[tuple[Conduit, Shard]] = field(default_factory=list)


def end_session(state: SimulatorState, session_id: str, code: int | None, now: float) -> Ended:
    """Close a session: its websocket subscriptions are disabled, and its conduit shard."""
    ended = Ended()
    session = state.sessions.get(session_id)
    if session is None or not session.live:
        return ended
    status = (
        CLOSE_STATUS.get(code, CLIENT_CLOSED_STATUS) if code is not None else CLIENT_CLOSED_STATUS
    )
    when = timestamp(now)
    session.status = "closed"
    session.disconnected_at = when
    session.reconnect_id = None
    for sub in state.session_subscriptions(session_id):
        if sub.enabled:
            state.disable(sub, status, now)
            sub.disconnected_at = when
            ended.subscriptions.append(sub)
    if session.shard is not None:
        conduit = state.conduits.get(session.shard[0])
        if conduit is not None:
            for shard in conduit.shards:
                if shard.session_id == session_id and shard.enabled:
                    shard.status = status
                    shard.disconnected_at = when
                    ended.shards.append((conduit, shard))
            if not any(shard.enabled for shard in conduit.shards):
                conduit.all_disabled_since = now
    return ended
