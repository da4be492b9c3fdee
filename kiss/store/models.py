"""Tables of the control plane (SQLAlchemy 2 typed declarative models).

``condition`` columns hold canonical JSON (sorted keys, no spaces) so that equal conditions
compare equal as strings and can sit in a unique constraint.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True)}


class Channel(Base):
    __tablename__ = "channels"

    channel_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    login: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DesiredSubscription(Base):
    """What a bot asked for; ``state``: see kiss.store.subscriptions."""

    __tablename__ = "desired_subscriptions"
    __table_args__ = (
        UniqueConstraint("channel_id", "type", "version", "condition", name="uq_desired_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel_id: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(16), default="1")
    condition: Mapped[str] = mapped_column(Text)
    transport: Mapped[str] = mapped_column(String(16), default="conduit")
    requested_by: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(nullable=True)
    subscription_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ActiveSubscription(Base):
    """Twitch's view of one subscription, as last seen (create answer, resync or revocation)."""

    __tablename__ = "active_subscriptions"

    twitch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(64), index=True)
    type: Mapped[str] = mapped_column(String(128))
    version: Mapped[str] = mapped_column(String(16))
    condition: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(64), index=True)
    cost: Mapped[int] = mapped_column(Integer, default=0)
    method: Mapped[str] = mapped_column(String(16))
    session_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    conduit_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)


class HubState(Base):
    __tablename__ = "hub_state"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuditEntry(Base):
    """Every create, delete, revocation and failure, with Twitch's message."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    type: Mapped[str] = mapped_column(String(128), default="")
    version: Mapped[str] = mapped_column(String(16), default="")
    subscription_id: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")


class StoredToken(Base):
    """An OAuth token, encrypted at rest; ``user_id`` is '' for the app token."""

    __tablename__ = "tokens"
    __table_args__ = (UniqueConstraint("kind", "user_id", name="uq_token_owner"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # "app" | "user"
    user_id: Mapped[str] = mapped_column(String(64), default="")
    login: Mapped[str] = mapped_column(String(64), default="")
    scopes: Mapped[str] = mapped_column(Text, default="")  # space-separated, sorted
    access_token: Mapped[str] = mapped_column(Text)  # Fernet ciphertext
    refresh_token: Mapped[str | None] = mapped_column(Text, nullable=True)  # Fernet ciphertext
    expires_at: Mapped[datetime | None] = mapped_column(nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="valid")  # valid | invalid
    reason: Mapped[str] = mapped_column(Text, default="")
    validated_at: Mapped[datetime | None] = mapped_column(nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
