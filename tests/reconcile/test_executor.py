"""The reconciler against the simulator, on SQLite and PostgreSQL, with a real Redis."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from websockets.sync.client import connect

from kiss.auth.provider import Principal
from kiss.keys import Keys
from kiss.reconcile.lock import ReconcileLock
from kiss.reconcile.plan import Limits, Plan
from kiss.reconcile.revocations import record_revocation
from kiss.reconcile.services import Services
from kiss.simulator.testing import SimulatorControl, SimulatorHandle, run_simulator_process
from kiss.store import hub_state
from kiss.store import subscriptions as store
from kiss.store import tokens as token_store
from tests.reconcile.conftest import hub_settings, make_conduit


def desire(hub: Services, *channels: str, type: str = "stream.online") -> None:
    with hub.sessions.begin() as session:
        for channel in channels:
            store.add_desired(
                session,
                channel_id=channel,
                type=type,
                version="1",
                condition={"broadcaster_user_id": channel},
                transport="conduit",
                requested_by="test",
            )


def on_twitch(hub: Services) -> list[dict[str, Any]]:
    body = hub.helix.request("GET", "eventsub/subscriptions", principal=Principal.app()).body
    return [sub for sub in body["data"] if sub["status"] == "enabled"]


def channels_on_twitch(hub: Services) -> list[str]:
    return sorted(sub["condition"]["broadcaster_user_id"] for sub in on_twitch(hub))


def last_outcome(hub: Services, channel: str) -> dict[bytes, bytes]:
    entries: Any = hub.redis.xrange(hub.keys.subscription_outcomes(channel))
    assert entries, f"no outcome for channel {channel}"
    return dict(entries[-1][1])


def last_run(hub: Services) -> dict[str, Any]:
    with hub.sessions() as session:
        run = hub_state.last_reconcile(session)
    assert run is not None
    return run


def states(hub: Services) -> dict[str, tuple[str, str]]:
    with hub.sessions() as session:
        return {row.channel_id: (row.state, row.reason) for row in store.list_desired(session)}


def test_converges_from_empty_and_then_stays_in_sync(hub: Services) -> None:
    conduit = make_conduit(hub)
    desire(hub, "101", "102", "103")
    report = hub.reconciler().reconcile()
    assert report.created == 3
    assert channels_on_twitch(hub) == ["101", "102", "103"]
    assert {sub["transport"]["conduit_id"] for sub in on_twitch(hub)} == {conduit}
    assert set(states(hub).values()) == {("active", "")}
    assert last_outcome(hub, "101")[b"status"] == b"active"
    again = hub.reconciler().reconcile()
    assert (again.created, again.deleted, again.kept) == (0, 0, 3)
    assert last_run(hub)["kept"] == 3
    with hub.sessions() as session:
        assert hub_state.counters(session)["reconciliations"] == 2
        assert [e.action for e in hub_state.recent_audit(session)].count("create") == 3


def test_waits_for_the_conduit(hub: Services) -> None:
    desire(hub, "101")
    report = hub.reconciler().reconcile()
    assert (report.created, report.waiting) == (0, 1)
    assert "conduit" in states(hub)["101"][1]
    make_conduit(hub)
    assert hub.reconciler().reconcile().created == 1


def test_resync_deletes_orphans_and_recreates_missing(hub: Services) -> None:
    conduit = make_conduit(hub)
    desire(hub, "101", "102")
    hub.reconciler().reconcile()
    # Drift behind the hub's back: an orphan made elsewhere, a desired one deleted.
    hub.helix.request(
        "POST",
        "eventsub/subscriptions",
        principal=Principal.app(),
        json={
            "type": "stream.offline",
            "version": "1",
            "condition": {"broadcaster_user_id": "999"},
            "transport": {"method": "conduit", "conduit_id": conduit},
        },
    )
    gone = next(s for s in on_twitch(hub) if s["condition"]["broadcaster_user_id"] == "102")
    hub.helix.request(
        "DELETE", "eventsub/subscriptions", principal=Principal.app(), params={"id": gone["id"]}
    )
    report = hub.reconciler().reconcile(resync=True)
    assert (report.created, report.deleted) == (1, 1)
    assert channels_on_twitch(hub) == ["101", "102"]


def test_survives_5xx_and_rate_limit_and_latency(hub: Services, control: SimulatorControl) -> None:
    make_conduit(hub)
    desire(hub, "101", "102", "103", "104")
    control.fault("/helix/eventsub/subscriptions", kind="5xx", count=3)
    control.fault("/helix/eventsub/subscriptions", kind="ratelimit", count=1)
    control.fault("/helix/eventsub/subscriptions", latency_ms=50, count=4)
    reconciler = hub.reconciler()
    report = reconciler.reconcile()
    for _ in range(5):
        if report.created + report.adopted == 4 or not report.retrying:
            break
        report = reconciler.reconcile()
    assert channels_on_twitch(hub) == ["101", "102", "103", "104"]
    assert set(states(hub).values()) == {("active", "")}


def test_permanent_error_is_recorded_with_twitchs_message(hub: Services) -> None:
    make_conduit(hub)
    # The store believes 101 granted bits:read; Twitch does not: 403 with its message.
    with hub.sessions.begin() as session:
        token_store.save_token(
            session,
            hub.cipher,
            kind="user",
            user_id="101",
            scopes=["bits:read"],
            access_token="not-used",
        )
    desire(hub, "101", type="channel.cheer")
    report = hub.reconciler().reconcile()
    assert report.failed == 1
    assert states(hub)["101"] == ("failed", "subscription missing proper authorization")
    outcome = last_outcome(hub, "101")
    assert outcome[b"status"] == b"failed"
    # Not retried on the next run: no second audit entry, no second request.
    hub.reconciler().reconcile()
    with hub.sessions() as session:
        failures = [e for e in hub_state.recent_audit(session) if e.action == "failure"]
    assert len(failures) == 1
    assert failures[0].status == 403


def test_missing_scope_is_a_placement_failure(hub: Services) -> None:
    make_conduit(hub)
    with hub.sessions.begin() as session:  # a stored token that lacks bits:read
        token_store.save_token(
            session, hub.cipher, kind="user", user_id="101", scopes=["chat:read"], access_token="t"
        )
    desire(hub, "101", type="channel.cheer")
    report = hub.reconciler().reconcile()
    assert report.failed == 1
    assert "missing scope" in states(hub)["101"][1]
    assert on_twitch(hub) == []


def test_expired_app_token_is_fetched_again(hub: Services, control: SimulatorControl) -> None:
    make_conduit(hub)
    control.expire_token(hub.tokens.app_token())
    desire(hub, "101")
    assert hub.reconciler().reconcile().created == 1


def test_revocation_stops_retries(hub: Services) -> None:
    make_conduit(hub)
    desire(hub, "101")
    hub.reconciler().reconcile()
    (sub,) = on_twitch(hub)
    with hub.sessions() as session:
        record_revocation(
            session,
            hub.redis,
            hub.keys,
            subscription_id=sub["id"],
            channel_id="101",
            type="stream.online",
            version="1",
            reason="authorization_revoked",
        )
    assert states(hub)["101"] == ("revoked", "authorization_revoked")
    report = hub.reconciler().reconcile()
    assert report.created == 0
    outcome = last_outcome(hub, "101")
    assert outcome[b"status"] == b"revoked"


def test_drain_makes_no_changes(hub: Services) -> None:
    make_conduit(hub)
    desire(hub, "101")
    hub.redis.set(hub.keys.drain(), "1")
    report = hub.reconciler().reconcile()
    assert report.outcome == "skipped: drain"
    assert on_twitch(hub) == []
    assert last_run(hub)["outcome"] == "skipped: drain"


def test_removed_desire_is_deleted_with_an_outcome(hub: Services) -> None:
    make_conduit(hub)
    desire(hub, "101")
    hub.reconciler().reconcile()
    with hub.sessions.begin() as session:
        assert store.remove_desired(
            session,
            channel_id="101",
            type="stream.online",
            version="1",
            condition={"broadcaster_user_id": "101"},
        )
    assert hub.reconciler().reconcile().deleted == 1
    assert on_twitch(hub) == []
    outcome = last_outcome(hub, "101")
    assert outcome[b"status"] == b"removed"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_conflict_adopts_the_existing_subscription(hub: Services) -> None:
    conduit = make_conduit(hub)
    made = hub.helix.request(
        "POST",
        "eventsub/subscriptions",
        principal=Principal.app(),
        json={
            "type": "stream.online",
            "version": "1",
            "condition": {"broadcaster_user_id": "101"},
            "transport": {"method": "conduit", "conduit_id": conduit},
        },
    ).body["data"][0]
    desire(hub, "101")
    report = hub.reconciler().reconcile()  # the mirror is empty: it tries to create, gets 409
    assert report.adopted == 1
    with hub.sessions() as session:
        (row,) = store.list_desired(session)
    assert row.subscription_id == made["id"]
    assert len(on_twitch(hub)) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_welcomed_websocket_session_gets_its_users_subscriptions(
    hub: Services, simulator: SimulatorHandle, control: SimulatorControl
) -> None:
    client_id = hub.helix.client_id
    minted = control.token(client_id=client_id, user_id="500", scopes=["bits:read"])
    with hub.sessions.begin() as session:
        token_store.save_token(
            session,
            hub.cipher,
            kind="user",
            user_id="500",
            scopes=["bits:read"],
            access_token=minted["access_token"],
            refresh_token=minted["refresh_token"],
        )
        for type_ in ("stream.online", "channel.cheer"):
            store.add_desired(
                session,
                channel_id="500",
                type=type_,
                version="1",
                condition={"broadcaster_user_id": "500"},
                transport="websocket",
                requested_by="test",
            )
    assert hub.reconciler().reconcile().waiting == 2  # no session of user 500 yet
    with connect(simulator.ws_url) as socket:
        welcome = orjson.loads(socket.recv(timeout=10))
        session_id = welcome["payload"]["session"]["id"]
        # What the listener does on a welcome (then it sends kiss.session_welcomed).
        hub.redis.hset(hub.keys.ws_sessions(), session_id, orjson.dumps({"user_id": "500"}))
        report = hub.reconciler().reconcile()
        assert report.created == 2
        subs = hub.helix.request(
            "GET", "eventsub/subscriptions", principal=Principal.user("500")
        ).body
        assert {s["transport"]["session_id"] for s in subs["data"]} == {session_id}
        # The listener learns which channels ride on the session (gap markers when it is lost).
        assert hub.redis.smembers(hub.keys.ws_session_channels(session_id)) == {b"500"}
        assert 0 < hub.redis.ttl(hub.keys.ws_session_channels(session_id)) <= 86_400
    # The socket is gone: its subscriptions are stale and move to the next session.
    hub.redis.hdel(hub.keys.ws_sessions(), session_id)
    with connect(simulator.ws_url) as socket:
        second = orjson.loads(socket.recv(timeout=10))["payload"]["session"]["id"]
        hub.redis.hset(hub.keys.ws_sessions(), second, orjson.dumps({"user_id": "500"}))
        report = hub.reconciler().reconcile()
        assert (report.created, report.deleted) == (2, 2)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_users_whose_sessions_are_full_are_asked_for_in_redis(hub: Services) -> None:
    reconciler = hub.reconciler()
    reconciler._tell_listener(Plan(sessions_wanted=(("500", 2),)), [], Limits(now=12.0), 12.0)
    record = hub.redis.hget(hub.keys.ws_sessions_wanted(), "500")
    assert orjson.loads(record or b"{}") == {"sessions": 2, "at": 12.0}
    reconciler.reconcile()  # nobody needs another session now: the request is withdrawn
    assert not hub.redis.exists(hub.keys.ws_sessions_wanted())


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_disabled_websocket_subscriptions_are_deleted_before_their_replacement(
    database_url: str, keys: Keys, tmp_path: Path
) -> None:
    # Twitch's own time: the disabled subscriptions stay listed (and counted) for a minute.
    with run_simulator_process(time_unit=1.0) as simulator:
        control = SimulatorControl(simulator.base_url)
        settings = hub_settings(simulator, database_url, keys, tmp_path / "key", control.client())
        hub = Services.build(settings)
        try:
            _three_lost_sessions_then_a_fourth(hub, simulator, control)
        finally:
            hub.close()
            control.http.close()


def _three_lost_sessions_then_a_fourth(
    hub: Services, simulator: SimulatorHandle, control: SimulatorControl
) -> None:
    minted = control.token(client_id=hub.helix.client_id, user_id="500", scopes=["bits:read"])
    with hub.sessions.begin() as session:
        token_store.save_token(
            session, hub.cipher, kind="user", user_id="500", scopes=["bits:read"],
            access_token=minted["access_token"], refresh_token=minted["refresh_token"],
        )  # fmt: skip
        store.add_desired(
            session, channel_id="500", type="channel.cheer", version="1",
            condition={"broadcaster_user_id": "500"}, transport="websocket", requested_by="t",
        )  # fmt: skip
    for _ in range(3):  # three sessions lost one after the other, each leaving one disabled
        with connect(simulator.ws_url) as socket:
            session_id = orjson.loads(socket.recv(timeout=10))["payload"]["session"]["id"]
            hub.redis.hset(hub.keys.ws_sessions(), session_id, orjson.dumps({"user_id": "500"}))
            hub.helix.request(
                "POST", "eventsub/subscriptions", principal=Principal.user("500"),
                json={"type": "channel.cheer", "version": "1",
                      "condition": {"broadcaster_user_id": "500"},
                      "transport": {"method": "websocket", "session_id": session_id}},
            )  # fmt: skip
            hub.reconciler().resync()  # the mirror knows it, as it would have created it
        hub.redis.hdel(hub.keys.ws_sessions(), session_id)
    listed = hub.helix.request(
        "GET", "eventsub/subscriptions", principal=Principal.user("500")
    ).body
    assert [s["status"] for s in listed["data"]] == ["websocket_disconnected"] * 3
    with connect(simulator.ws_url) as socket:
        fourth = orjson.loads(socket.recv(timeout=10))["payload"]["session"]["id"]
        hub.redis.hset(hub.keys.ws_sessions(), fourth, orjson.dumps({"user_id": "500"}))
        report = hub.reconciler().reconcile()
        # Created after the three were deleted: no 429 "maximum subscriptions with type and
        # condition exceeded", which creating first would have met.
        assert (report.created, report.deleted, report.failed, report.errors) == (1, 3, 0, [])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_run_that_loses_its_lock_stops_and_records_it(
    hub: Services, control: SimulatorControl
) -> None:
    make_conduit(hub)
    channels = [str(900 + n) for n in range(40)]
    desire(hub, *channels)
    control.fault("/helix/eventsub/subscriptions", latency_ms=200)  # about 1 s of creates
    lock = ReconcileLock(hub.redis, hub.keys, ttl_seconds=0.6, holder="loser")
    lease = lock.acquire()
    assert lease is not None
    with lease:
        thief = threading.Timer(
            0.3, lambda: hub.redis.set(hub.keys.reconcile_lock(), "99:x:thief", px=5000)
        )
        thief.start()
        report = hub.reconciler().reconcile(lease=lease)
        thief.join()
    assert report.outcome == "stopped: lost the lock"
    assert report.created < len(channels)
    assert last_run(hub)["outcome"] == "stopped: lost the lock"
    entries: Any = hub.redis.xrange(hub.keys.reconcile_runs())
    recorded = [dict(fields) for _, fields in entries]
    assert [(r[b"event"], r[b"fence"], r[b"holder"]) for r in recorded] == [
        (b"start", b"1", b"loser"),
        (b"finish", b"1", b"loser"),
    ]
    assert recorded[1][b"outcome"] == b"stopped: lost the lock"
    control.clear_faults()
    hub.reconciler().reconcile()  # the next holder carries on: each one created once
    assert channels_on_twitch(hub) == sorted(channels)
