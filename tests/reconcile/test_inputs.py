from __future__ import annotations

import orjson
import redis
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session, sessionmaker

from kiss.keys import Keys
from kiss.reconcile import inputs
from kiss.store import hub_state, tokens
from kiss.store import subscriptions as store
from kiss.store.crypto import TokenCipher


def test_limits_read_conduit_sessions_scopes_and_budget(
    sessions: sessionmaker[Session], redis_client: redis.Redis, keys: Keys
) -> None:
    cipher = TokenCipher([Fernet.generate_key()])
    redis_client.hset(keys.conduit(), mapping={"id": "c1", "shard_count": "1"})
    redis_client.hset(keys.ws_sessions(), "s1", orjson.dumps({"user_id": "5"}))
    redis_client.hset(keys.ws_sessions(), "garbled", "not json")
    with sessions.begin() as session:
        tokens.save_token(
            session, cipher, kind="user", user_id="5", scopes=["bits:read"], access_token="a"
        )
        tokens.save_token(session, cipher, kind="user", user_id="6", access_token="b")
        tokens.mark_invalid(session, "user", "6", "refresh refused")
        hub_state.set_state(session, inputs.APP_MAX_TOTAL_COST, 42)
    with sessions() as session:
        limits = inputs.load_limits(session, redis_client, keys, now=7.0)
    assert limits.conduit_id == "c1"
    assert limits.sessions == {"s1": "5"}
    assert limits.scopes == {"5": frozenset({"bits:read"})}
    assert limits.invalid_users == {"6": "refresh refused"}
    assert (limits.app_max_total_cost, limits.now) == (42, 7.0)


def test_desired_rows_load_as_plan_inputs(sessions: sessionmaker[Session]) -> None:
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
    with sessions() as session:
        (desired,) = inputs.load_desired(session)
        assert inputs.load_active(session) == []
    assert desired.key == ("stream.online", "1", '{"broadcaster_user_id":"1"}')
    assert (desired.state, desired.next_attempt_at) == ("pending", None)


def test_no_conduit_yet(redis_client: redis.Redis, keys: Keys) -> None:
    assert inputs.conduit_id(redis_client, keys) is None
