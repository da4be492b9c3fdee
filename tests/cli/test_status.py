"""``kiss status``, ``subscriptions``, ``metrics`` and ``check`` on real Redis and SQLite."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis
from click.testing import CliRunner

from kiss.cli import main
from kiss.keys import Keys
from kiss.store.db import make_engine, session_factory, upgrade
from kiss.store.models import ActiveSubscription, DesiredSubscription


@pytest.fixture
def env(redis_url: str, keys: Keys, sqlite_url: str) -> dict[str, str]:
    return {
        "KISSBOT_REDIS_URL": redis_url,
        "KISSBOT_KEY_PREFIX": keys.prefix,
        "KISSBOT_DATABASE_URL": sqlite_url,
        "KISSBOT_EVENTSUB__TRANSPORT": "conduit",
    }


@pytest.fixture
def hub(
    env: dict[str, str], sqlite_url: str, redis_client: redis.Redis, keys: Keys
) -> Iterator[None]:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    with session_factory(engine)() as session:
        session.add_all(
            [
                DesiredSubscription(
                    channel_id="111",
                    type="stream.online",
                    version="1",
                    condition="{}",
                    state="active",
                ),
                DesiredSubscription(
                    channel_id="111",
                    type="channel.follow",
                    version="2",
                    condition="{}",
                    state="failed",
                    reason="403: subscription missing proper authorization",
                ),
                ActiveSubscription(
                    twitch_id="s1",
                    channel_id="111",
                    type="stream.online",
                    version="1",
                    condition="{}",
                    status="enabled",
                    method="conduit",
                ),
            ]
        )
        session.commit()
    engine.dispose()
    redis_client.sadd(keys.listeners(), "l1")
    redis_client.hset(keys.listener_state("l1"), mapping={"state": "up"})
    redis_client.set(keys.heartbeat("listener:l1"), "1", ex=60)
    redis_client.hset(keys.conduit(), mapping={"id": "c-9", "shard_count": "1"})
    redis_client.set(keys.shard_lease("c-9", "0"), "l1", ex=60)
    redis_client.hset(keys.counters(), mapping={"events_routed": "5"})
    yield


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def test_status_prints_the_seed_layout(hub: None, env: dict[str, str]) -> None:
    code, out = run(env, "status")
    assert code == 0, out
    assert "EventSub Hub - Status" in out
    assert "🌐 Conduit: 🟢 UP  (c-9, 1/1 shards up)" in out
    assert "      - 111 channel.follow v2 [failed]: 403: subscription missing proper" in out
    assert "   Events Routed:  5" in out


def test_status_json_is_machine_readable(hub: None, env: dict[str, str]) -> None:
    code, out = run(env, "status", "--json")
    assert code == 0, out
    document = json.loads(out)
    assert document["up"] is True
    assert (document["desired"], document["active"]) == (2, 1)
    assert document["channels"][0]["channel_id"] == "111"


def test_subscriptions_filter_and_json(hub: None, env: dict[str, str]) -> None:
    code, out = run(env, "subscriptions", "--state", "failed")
    assert code == 0, out
    assert "channel.follow" in out and "stream.online" not in out
    code, out = run(env, "subscriptions", "--channel", "111", "--json")
    assert [row["type"] for row in json.loads(out)] == ["channel.follow", "stream.online"]
    code, out = run(env, "subscriptions", "--channel", "999")
    assert out == "No desired subscriptions match.\n"


def test_metrics_table_and_json(hub: None, env: dict[str, str]) -> None:
    code, out = run(env, "metrics")
    assert code == 0 and "Events Routed:  5" in out
    assert "Reconnects:     0" in out and "listener l1: 0" in out
    code, out = run(env, "metrics", "--json")
    assert json.loads(out) == {
        "events_routed": 5,
        "reconnects": 0,
        "reconnects_by_listener": {"l1": {"total": 0}},
    }


def test_a_database_without_schema_says_to_run_the_migration(
    env: dict[str, str], keys: Keys
) -> None:
    code, out = run(env, "status")
    assert code == 1
    assert "kiss db upgrade" in out


def test_an_unreachable_redis_is_named_without_its_password(
    env: dict[str, str], sqlite_url: str
) -> None:
    upgrade(sqlite_url)
    code, out = run({**env, "KISSBOT_REDIS_URL": "redis://:hunter2secret@127.0.0.1:1/0"}, "status")
    assert code == 1
    assert "cannot reach Redis at redis://:***@127.0.0.1:1/0" in out
    assert "hunter2secret" not in out


def test_a_bad_setting_is_named_with_what_to_do(env: dict[str, str]) -> None:
    code, out = run({**env, "KISSBOT_REDIS_URL": "localhost:6379"}, "status")
    assert code == 1
    assert "redis_url" in out and "KISSBOT_" in out


def test_check_exits_0_with_live_heartbeats_and_1_without(
    env: dict[str, str], redis_client: redis.Redis, keys: Keys
) -> None:
    assert run(env, "check")[0] == 0
    code, out = run(env, "check", "listener", "beat")
    assert code == 1 and "listener, beat" in out
    redis_client.set(keys.heartbeat("listener:abc"), "1", ex=60)
    redis_client.set(keys.heartbeat("beat"), "1", ex=60)
    assert run(env, "check", "listener", "beat")[0] == 0
    assert run(env, "check", "listener:abc")[0] == 0
    assert run(env, "check", "listener:zzz")[0] == 1


def test_check_fails_when_redis_is_down(env: dict[str, str]) -> None:
    code, out = run({**env, "KISSBOT_REDIS_URL": "redis://127.0.0.1:1/0"}, "check")
    assert code == 1 and "unhealthy" in out
