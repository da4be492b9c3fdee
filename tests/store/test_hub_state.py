from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from kiss.store import hub_state


def test_state_values_round_trip_as_json(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        assert hub_state.get_state(session, "missing", 5) == 5
        hub_state.set_state(session, hub_state.LAST_RECONCILE, {"at": 1.5, "outcome": "done"})
    with sessions.begin() as session:
        assert hub_state.last_reconcile(session) == {"at": 1.5, "outcome": "done"}
        hub_state.set_state(session, hub_state.LAST_RECONCILE, {"at": 2.0})
    with sessions() as session:
        assert hub_state.last_reconcile(session) == {"at": 2.0}


def test_counters_add_up(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        hub_state.bump_counters(session, created=2)
    with sessions.begin() as session:
        assert hub_state.bump_counters(session, created=3, deleted=1) == {
            "created": 5,
            "deleted": 1,
        }
    with sessions() as session:
        assert hub_state.counters(session) == {"created": 5, "deleted": 1}


def test_audit_keeps_twitchs_message_newest_first(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        hub_state.audit(session, "create", channel_id="1", subscription_id="a", status=202)
        hub_state.audit(session, "failure", channel_id="2", status=403, message="missing scope")
    with sessions() as session:
        entries = hub_state.recent_audit(session)
        assert [(e.action, e.status, e.message) for e in entries] == [
            ("failure", 403, "missing scope"),
            ("create", 202, ""),
        ]
        assert [e.action for e in hub_state.recent_audit(session, channel_id="1")] == ["create"]
