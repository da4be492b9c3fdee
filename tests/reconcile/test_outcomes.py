"""How each answer of Twitch is recorded: desired state, retry time, audit, outcome stream."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from kiss.errors import PermanentHelixError, QuotaExceeded, TokenError, TransientHelixError
from kiss.keys import Keys
from kiss.reconcile.outcomes import Recorder, Report
from kiss.reconcile.plan import Create, Desired
from kiss.store import hub_state
from kiss.store import subscriptions as store

NOW = 1_000_000.0


@pytest.mark.parametrize(
    ("error", "expected_state", "retry_after", "outcome"),
    [
        (TransientHelixError(503, "unavailable"), "retrying", (1.0, 2.0), None),
        (TokenError("refresh refused"), "retrying", (60.0, 60.0), None),
        (QuotaExceeded(429, "total cost exceeded"), "failed", (600.0, 600.0), "failed"),
        (
            PermanentHelixError(403, "subscription missing proper authorization"),
            "failed",
            None,
            "failed",
        ),
    ],
)
def test_create_failures_are_classified(
    sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    keys: Keys,
    error: Exception,
    expected_state: str,
    retry_after: tuple[float, float] | None,
    outcome: str | None,
) -> None:
    recorder = Recorder(redis_client, keys, reconcile_interval=60.0, clock=lambda: NOW)
    with sessions.begin() as session:
        row = store.add_desired(
            session,
            channel_id="1",
            type="stream.online",
            version="1",
            condition={"broadcaster_user_id": "1"},
            transport="conduit",
            requested_by="bot",
        )
        want = Desired(row.id, "1", "stream.online", "1", row.condition, "conduit")
        report = Report()
        recorder.created(session, row, Create(want, {}, None, 1), error, report)
    with sessions() as session:
        (saved,) = store.list_desired(session)
        assert saved.state == expected_state
        assert saved.reason == str(getattr(error, "message", error))
        if retry_after is None:
            assert saved.next_attempt_at is None
        else:
            assert saved.next_attempt_at is not None
            delay = saved.next_attempt_at.timestamp() - NOW
            assert retry_after[0] - 0.01 <= delay <= retry_after[1] + 0.01
        (entry,) = hub_state.recent_audit(session)
        assert (entry.action, entry.message) == ("failure", saved.reason)
    entries: Any = redis_client.xrange(keys.subscription_outcomes("1"))
    assert [e[1]["status"] for e in entries] == ([outcome] if outcome else [])
