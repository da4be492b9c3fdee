from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from kiss.errors import InvalidCondition, UnknownTopic
from kiss.store import subscriptions as store
from kiss.store.crypto import TokenCipher
from kiss.store.models import DesiredSubscription, utcnow
from kiss.store.tokens import save_token


def add(session: Session, channel: str = "100", **kwargs: object) -> DesiredSubscription:
    fields: dict[str, object] = {
        "channel_id": channel,
        "type": "stream.online",
        "version": "1",
        "condition": {"broadcaster_user_id": channel},
        "transport": "conduit",
        "requested_by": "bot",
    }
    fields.update(kwargs)
    return store.add_desired(session, **fields)  # type: ignore[arg-type]


def sub(id: str, channel: str, status: str = "enabled") -> store.TwitchSubscription:
    return store.TwitchSubscription(
        id=id,
        type="stream.online",
        version="1",
        condition={"broadcaster_user_id": channel},
        status=status,
        cost=1,
        method="conduit",
        session_id=None,
        conduit_id="c1",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_add_is_idempotent_and_rearms_a_failed_desire(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        first = add(session)
        first.state, first.reason = "failed", "403"
    with sessions.begin() as session:
        again = add(session, requested_by="other-bot")
        assert again.id == first.id
        assert (again.state, again.reason, again.requested_by) == ("pending", "", "other-bot")
        assert len(store.list_desired(session)) == 1


def test_bad_requests_name_the_problem(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        with pytest.raises(UnknownTopic):
            add(session, type="no.such.topic")
        with pytest.raises(InvalidCondition, match="missing"):
            add(session, condition={})
        with pytest.raises(ValueError, match="transport"):
            add(session, transport="carrier-pigeon")


def test_remove(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        add(session)
    with sessions.begin() as session:
        kwargs = {"channel_id": "100", "type": "stream.online", "version": "1"}
        assert store.remove_desired(session, condition={"broadcaster_user_id": "100"}, **kwargs)
        assert not store.remove_desired(session, condition={"broadcaster_user_id": "1"}, **kwargs)
        assert store.list_desired(session) == []


def test_replace_active_mirrors_twitch(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        store.replace_active(session, [(sub("a", "1"), None), (sub("b", "2"), None)])
    with sessions.begin() as session:
        assert store.replace_active(session, [(sub("b", "2", "user_removed"), None)]) == 1
    with sessions() as session:
        (row,) = store.list_active(session)
        assert (row.twitch_id, row.status, row.channel_id) == ("b", "user_removed", "2")


def test_channel_statuses_and_failures(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        store.ensure_channel(session, "1", "alice")
        add(session, "1")
        broken = add(session, "2")
        broken.state, broken.reason = "failed", "cost budget exceeded"
        store.upsert_active(session, sub("a", "1"))
    with sessions() as session:
        statuses = {s.channel_id: s for s in store.channel_statuses(session)}
        assert statuses["1"] == store.ChannelStatus("1", "alice", 1, 1, 0, 0)
        assert statuses["2"].failed == 1
        assert [(f.channel_id, f.reason) for f in store.failures(session)] == [
            ("2", "cost budget exceeded")
        ]


def test_channel_scopes_come_from_valid_tokens(sessions: sessionmaker[Session]) -> None:
    cipher = TokenCipher([b"M" * 43 + b"="])
    with sessions.begin() as session:
        save_token(
            session, cipher, kind="user", user_id="7", scopes=["bits:read"], access_token="x"
        )
    with sessions() as session:
        assert store.channel_scopes(session, "7") == {"bits:read"}
        assert store.channel_scopes(session, "8") == frozenset()


def test_canonical_is_order_independent() -> None:
    assert store.canonical({"b": "1", "a": "2"}) == store.canonical({"a": "2", "b": "1"})


def test_a_resync_keeps_what_was_recorded_after_its_listing_began(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        store.replace_active(session, [(sub("a", "1"), None)])
    listed_at = utcnow()  # Twitch lists "a" enabled; meanwhile "a" is revoked, "c" is created
    with sessions.begin() as session:
        store.mark_active_status(session, "a", "authorization_revoked")
        store.upsert_active(session, sub("c", "3"))
    with sessions.begin() as session:
        count = store.replace_active(session, [(sub("a", "1"), None)], listed_at)
        assert count == 2
    with sessions() as session:
        rows = {row.twitch_id: row.status for row in store.list_active(session)}
    assert rows == {"a": "authorization_revoked", "c": "enabled"}
