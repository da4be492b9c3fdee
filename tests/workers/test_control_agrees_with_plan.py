"""The control process and the planner apply one scope rule: for every topic of the catalog
and every transport, a request control accepts is one the plan does not fail for good, and a
request control refuses is one the plan would fail (both read the tokens from the store)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis
from cryptography.fernet import Fernet
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from kiss.contracts.bot_requests import encode_request
from kiss.eventsub.catalog import TOPICS, Topic
from kiss.keys import Keys
from kiss.reconcile.inputs import load_limits
from kiss.reconcile.plan import Desired, Unplaced, plan
from kiss.store import subscriptions as store
from kiss.store import tokens
from kiss.store.crypto import TokenCipher
from kiss.store.db import make_engine, session_factory, upgrade
from kiss.store.models import DesiredSubscription, StoredToken
from workers.control import ControlWorker

CASES = [
    pytest.param(topic, transport, id=f"{topic.type}-v{topic.version}-{transport}")
    for topic in TOPICS
    for transport in store.TRANSPORTS
    if transport in topic.transports
]
# What the store may hold for one user: nothing, an invalid token, a token granting nothing,
# a token granting every scope the catalog names for the topic.
STATES = ("none", "invalid", "empty", "full")


class SentTasks:
    """The TaskSender seen by control: the names it would send to Celery."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send_task(self, name: str, *, kwargs: dict[str, Any], queue: str) -> None:
        self.sent.append(name)


@pytest.fixture(scope="module")
def store_sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('agree') / 'hub.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield session_factory(engine)
    engine.dispose()


def condition_of(topic: Topic) -> dict[str, str]:
    """A condition with a distinct user id in every user field the topic requires."""
    fields = [*topic.required, *topic.exactly_one_of[:1]]
    return {name: str(100 + index) for index, name in enumerate(fields)}


def scenarios(users: list[str]) -> Iterator[dict[str, str]]:
    """Every state for all users at once, and each user in each state with the others full."""
    for state in STATES:
        yield dict.fromkeys(users, state)
    for user, state in itertools.product(users, STATES):
        yield {**dict.fromkeys(users, "full"), user: state}


def store_tokens(
    sessions: sessionmaker[Session], topic: Topic, states: dict[str, str], cipher: TokenCipher
) -> None:
    every_scope = sorted(topic.any_scope | topic.app_token_scopes | {"user:bot"})
    with sessions.begin() as session:
        session.execute(delete(StoredToken))
        session.execute(delete(DesiredSubscription))
        for user_id, state in states.items():
            if state == "none":
                continue
            scopes = every_scope if state == "full" else []
            tokens.save_token(
                session, cipher, kind="user", user_id=user_id, scopes=scopes, access_token="x"
            )
            if state == "invalid":
                tokens.mark_invalid(session, tokens.USER, user_id, "refresh refused")


@pytest.mark.parametrize(("topic", "transport"), CASES)
def test_control_and_plan_agree(
    topic: Topic,
    transport: str,
    store_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    keys: Keys,
) -> None:
    cipher = TokenCipher([Fernet.generate_key()])
    condition = condition_of(topic)
    channel = topic.channel_of(condition) or "100"
    owner = topic.owner_of(condition) or ""
    control = ControlWorker(
        redis_client, keys, store_sessions, SentTasks(), queue="q", transport=transport
    )
    users = sorted(set(condition.values()))
    for states in scenarios(users):
        store_tokens(store_sessions, topic, states, cipher)
        request = encode_request(
            "r",
            "subscribe",
            bot="b",
            channel_id=channel,
            channel_name="",
            type=topic.type,
            version=topic.version,
            condition=condition,
            now=1.0,
        )
        _, answer = control.handle(request)
        accepted = b'"ok":true' in answer
        with store_sessions() as session:
            limits = load_limits(session, redis_client, keys, now=1.0)
        limits = replace(limits, conduit_id="c1", sessions={"s1": owner})
        want = Desired(1, channel, topic.type, topic.version, store.canonical(condition), transport)
        result = plan([want], [], limits)
        failed = [u.reason for u in result.unplaced if isinstance(u, Unplaced) and not u.waiting]
        assert accepted == (not failed), (states, answer, failed)
