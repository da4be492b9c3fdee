from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy.orm import Session, sessionmaker

from kiss.keys import Keys
from kiss.reconcile.revocations import record_revocation
from kiss.store import hub_state
from kiss.store import subscriptions as store


def test_revocation_marks_desired_and_active_and_tells_the_bot(
    sessions: sessionmaker[Session], redis_client: redis.Redis, keys: Keys
) -> None:
    with sessions.begin() as session:
        store.add_desired(
            session,
            channel_id="1",
            type="stream.online",
            version="1",
            condition={"broadcaster_user_id": "1"},
            transport="conduit",
            requested_by="bot",
        )
        store.upsert_active(
            session,
            store.TwitchSubscription(
                id="sub-1",
                type="stream.online",
                version="1",
                condition={"broadcaster_user_id": "1"},
                status="enabled",
                cost=1,
                method="conduit",
                session_id=None,
                conduit_id="c",
                created_at=datetime.now(UTC),
            ),
        )
    with sessions() as session:
        hit = record_revocation(
            session,
            redis_client,
            keys,
            subscription_id="sub-1",
            channel_id="1",
            type="stream.online",
            version="1",
            reason="user_removed",
        )
    assert hit == 1
    with sessions() as session:
        (desired,) = store.list_desired(session)
        (active,) = store.list_active(session)
        assert (desired.state, desired.reason) == ("revoked", "user_removed")
        assert active.status == "user_removed"
        assert [e.action for e in hub_state.recent_audit(session)] == ["revoked"]
    entries: Any = redis_client.xrange(keys.subscription_outcomes("1"))
    assert entries[-1][1]["status"] == "revoked"
    assert entries[-1][1]["reason"] == "user_removed"
