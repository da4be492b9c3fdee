"""``kiss drain/undrain`` and ``kiss channels add/remove`` on real Redis and SQLite."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import redis
from click.testing import CliRunner

from kiss.cli import main
from kiss.cli.ops import channel_condition, handover_done
from kiss.errors import InvalidCondition
from kiss.keys import Keys
from kiss.status.model import ShardStatus
from kiss.store.db import make_engine, session_factory, upgrade
from kiss.store.models import DesiredSubscription


@pytest.fixture
def env(redis_url: str, keys: Keys, sqlite_url: str) -> dict[str, str]:
    upgrade(sqlite_url)
    return {
        "KISSBOT_REDIS_URL": redis_url,
        "KISSBOT_KEY_PREFIX": keys.prefix,
        "KISSBOT_DATABASE_URL": sqlite_url,
    }


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


@pytest.fixture
def control_plane(redis_url: str, keys: Keys) -> Iterator[list[dict[str, str]]]:
    """Stands in for workers/control.py: answers every request on its reply list."""
    seen: list[dict[str, str]] = []
    stop = threading.Event()
    client = redis.Redis.from_url(redis_url, decode_responses=True)

    def serve() -> None:
        position = "0-0"
        while not stop.is_set():
            reply: Any = client.xread({keys.control_requests(): position}, block=100)
            for _stream, rows in reply or []:
                for entry_id, fields in rows:
                    position = entry_id
                    seen.append(fields)
                    ok = fields["type"] != "channel.ban"
                    answer = {"ok": ok, "error": None if ok else "channel.ban needs a scope"}
                    client.lpush(keys.control_reply(fields["request_id"]), orjson.dumps(answer))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield seen
    stop.set()
    thread.join()
    client.close()


def listener(client: redis.Redis, keys: Keys, name: str, state: str, shards: str = "") -> None:
    client.sadd(keys.listeners(), name)
    client.hset(keys.listener_state(name), mapping={"state": state, "shards": shards})
    client.set(keys.heartbeat(f"listener:{name}"), "1", ex=60)


def test_drain_sets_the_flag_and_undrain_clears_it(
    env: dict[str, str], redis_client: redis.Redis, keys: Keys
) -> None:
    listener(redis_client, keys, "l1", "draining", "0")
    code, out = run(env, "drain")
    assert code == 0, out
    assert json.loads(redis_client.get(keys.drain()) or "")["since"] > 0
    assert "listener l1: draining, shards 0" in out
    code, out = run(env, "undrain")
    assert code == 0, out
    assert not redis_client.exists(keys.drain())


def test_drain_wait_returns_once_a_successor_holds_every_shard(
    env: dict[str, str], redis_client: redis.Redis, keys: Keys
) -> None:
    listener(redis_client, keys, "old", "up", "0")
    redis_client.hset(keys.conduit(), mapping={"id": "c1", "shard_count": "1"})
    redis_client.set(keys.shard_lease("c1", "0"), "old", ex=60)

    def successor() -> None:  # the listener started for the maintenance takes the shard
        deadline = time.monotonic() + 10
        while not redis_client.exists(keys.drain()) and time.monotonic() < deadline:
            time.sleep(0.05)
        listener(redis_client, keys, "new", "draining", "0")
        redis_client.set(keys.shard_lease("c1", "0"), "new", ex=60)

    thread = threading.Thread(target=successor)
    thread.start()
    code, out = run(env, "drain", "--wait", "20")
    thread.join()
    assert code == 0, out
    assert "Handover done" in out


def test_drain_wait_after_the_successor_took_a_shard_hands_over_from_the_first_holders(
    env: dict[str, str], redis_client: redis.Redis, keys: Keys
) -> None:
    # The README's order: kiss drain, start the successor, kiss drain --wait.
    listener(redis_client, keys, "old", "up", "0,1")
    redis_client.hset(keys.conduit(), mapping={"id": "c1", "shard_count": "2"})
    redis_client.set(keys.shard_lease("c1", "0"), "old", ex=60)
    redis_client.set(keys.shard_lease("c1", "1"), "old", ex=60)
    code, out = run(env, "drain")
    assert code == 0, out
    listener(redis_client, keys, "new", "up", "0")
    redis_client.set(keys.shard_lease("c1", "0"), "new", ex=60)  # one shard moved already

    def second_shard() -> None:
        time.sleep(0.5)  # while the wait runs: the successor takes the other shard
        redis_client.set(keys.shard_lease("c1", "1"), "new", ex=60)

    thread = threading.Thread(target=second_shard)
    thread.start()
    code, out = run(env, "drain", "--wait", "20")
    thread.join()
    assert code == 0, out
    assert "Handover done" in out


def test_drain_wait_fails_without_a_successor(
    env: dict[str, str], redis_client: redis.Redis, keys: Keys
) -> None:
    listener(redis_client, keys, "old", "draining", "0")
    redis_client.hset(keys.conduit(), mapping={"id": "c1", "shard_count": "1"})
    redis_client.set(keys.shard_lease("c1", "0"), "old", ex=60)
    code, out = run(env, "drain", "--wait", "0.5")
    assert code == 1
    assert "still held by old" in out and "successor" in out


def test_handover_is_done_only_when_new_listeners_hold_every_shard() -> None:
    assert handover_done({"a"}, [ShardStatus("0", "b"), ShardStatus("1", "c")])
    assert not handover_done({"a"}, [ShardStatus("0", "b"), ShardStatus("1", "a")])
    assert not handover_done({"a"}, [ShardStatus("0", "b"), ShardStatus("1", None)])
    assert not handover_done(set(), [])


def test_channels_add_asks_the_control_plane_for_each_type(
    env: dict[str, str], control_plane: list[dict[str, str]]
) -> None:
    code, out = run(env, "channels", "add", "4242", "--name", "someone")
    assert code == 0, out
    assert [(r["op"], r["type"], r["channel_id"]) for r in control_plane] == [
        ("subscribe", "stream.online", "4242"),
        ("subscribe", "stream.offline", "4242"),
    ]
    assert json.loads(control_plane[0]["condition"]) == {"broadcaster_user_id": "4242"}
    assert control_plane[0]["channel_name"] == "someone"


def test_a_refusal_is_shown_with_its_reason(
    env: dict[str, str], control_plane: list[dict[str, str]]
) -> None:
    code, out = run(env, "channels", "add", "4242", "--type", "channel.ban")
    assert code == 1
    assert "channel.ban needs a scope" in out


def test_without_a_control_plane_the_error_says_what_to_start(env: dict[str, str]) -> None:
    code, out = run(env, "channels", "add", "4242", "--wait", "0.3")
    assert code == 1
    assert "kiss control" in out


def test_bad_channel_and_type_are_rejected_before_any_request(
    env: dict[str, str], redis_client: redis.Redis, keys: Keys
) -> None:
    code, out = run(env, "channels", "add", "el_serda")
    assert code == 2 and "not a Twitch user id" in out
    code, out = run(env, "channels", "add", "4242", "--type", "stream.nope")
    assert code == 2 and "unknown subscription type" in out
    assert not redis_client.exists(keys.control_requests())


def test_channels_remove_unsubscribes_what_the_channel_has(
    env: dict[str, str], sqlite_url: str, control_plane: list[dict[str, str]]
) -> None:
    engine = make_engine(sqlite_url)
    with session_factory(engine)() as session:
        session.add(
            DesiredSubscription(
                channel_id="4242",
                type="stream.online",
                version="1",
                condition='{"broadcaster_user_id":"4242"}',
                requested_by="example",
            )
        )
        session.commit()
    engine.dispose()
    code, out = run(env, "channels", "remove", "4242")
    assert code == 0, out
    assert [(r["op"], r["type"], r["bot"]) for r in control_plane] == [
        ("unsubscribe", "stream.online", "example")
    ]
    code, out = run(env, "channels", "remove", "777")
    assert code == 1 and "no desired subscriptions" in out


def test_channel_condition_fills_the_channel_fields() -> None:
    assert channel_condition("stream.online", "1", {}) == {"broadcaster_user_id": "1"}
    follow = channel_condition("channel.follow", "1", {})
    assert follow == {"broadcaster_user_id": "1", "moderator_user_id": "1"}
    with pytest.raises(InvalidCondition):
        channel_condition("stream.online", "1", {"bogus": "x"})
