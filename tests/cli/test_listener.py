"""``kiss listener health`` / ``status`` on a real Redis, and bad listener options."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import redis
from click.testing import CliRunner

from kiss.cli import main
from kiss.keys import Keys
from tests.waiting import wait_for


@pytest.fixture
def env(redis_url: str, keys: Keys) -> dict[str, str]:
    return {"KISSBOT_REDIS_URL": redis_url, "KISSBOT_KEY_PREFIX": keys.prefix}


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


def report(client: redis.Redis, keys: Keys, listener_id: str, healthy: bool) -> None:
    client.sadd(keys.listeners(), listener_id)
    client.set(keys.heartbeat(f"listener:{listener_id}"), "1", px=5000)
    client.hset(
        keys.listener_state(listener_id),
        mapping={
            "state": "up" if healthy else "connecting",
            "healthy": "1" if healthy else "0",
            "problems": "" if healthy else "conduit:C:shard:0 is lost (4006 network error)",
            "slots": orjson.dumps([{"slot": "conduit:C:shard:0"}]),
        },
    )


def test_health_exits_1_without_a_listener(env: dict[str, str]) -> None:
    code, output = run(env, "listener", "health")
    assert code == 1 and "no listener has ever reported" in output


def test_health_follows_the_listener_verdict(
    env: dict[str, str], redis_client: redis.Redis, keys: Keys
) -> None:
    report(redis_client, keys, "L1", healthy=False)
    code, output = run(env, "listener", "health")
    assert code == 1 and "4006 network error" in output
    report(redis_client, keys, "L1", healthy=True)
    assert run(env, "listener", "health") == (0, "healthy: L1: healthy\n")
    redis_client.delete(keys.heartbeat("listener:L1"))
    code, output = run(env, "listener", "health", "--listener-id", "L1")
    assert code == 1 and "no heartbeat" in output


def test_status_prints_one_json_line_per_listener(
    env: dict[str, str], redis_client: redis.Redis, keys: Keys
) -> None:
    report(redis_client, keys, "L1", healthy=True)
    code, output = run(env, "listener", "status")
    assert code == 0
    line = orjson.loads(output.splitlines()[0])
    assert line["listener"] == "L1" and line["alive"] is True
    assert line["slots"] == [{"slot": "conduit:C:shard:0"}]


def test_websocket_transport_without_users_is_refused_clearly(env: dict[str, str]) -> None:
    code, output = run(env, "listener", "--transport", "websocket")
    assert code == 1
    assert "needs at least one user id (--user)" in output


def test_sessions_per_user_is_bounded_by_twitch(env: dict[str, str]) -> None:
    code, output = run(env, "listener", "--user", "1", "--sessions-per-user", "4")
    assert code == 2 and "4 is not in the range 1<=x<=3" in output


def test_sigterm_stops_a_listener_whose_twitch_cannot_be_reached(
    env: dict[str, str], tmp_path: Path
) -> None:
    # Nothing answers on port 9 (discard): the conduit setup keeps retrying with backoff.
    nowhere = "http://127.0.0.1:9"
    process_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KISSBOT_")},
        **env,
        "KISSBOT_LOCAL_RUN": "",
        "KISSBOT_TWITCH__CLIENT_ID": "id",
        "KISSBOT_TWITCH__CLIENT_SECRET": "secret-that-must-not-be-logged",
        "KISSBOT_TWITCH__OAUTH_URL": f"{nowhere}/oauth2",
        "KISSBOT_TWITCH__HELIX_URL": f"{nowhere}/helix",
        "KISSBOT_SPOOL__DIRECTORY": str(tmp_path / "spool"),
    }
    log_path = tmp_path / "listener.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "kiss", "listener", "--metrics-port", "0"],
            env=process_env,
            stderr=log_file,
            cwd=tmp_path,
        )
    try:
        wait_for(lambda: "conduit setup failed" in log_path.read_text(), 30, "a failed setup")
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
    log = log_path.read_text()
    assert code == 0, log
    assert "Traceback" not in log and "secret-that-must-not-be-logged" not in log
    assert f"Twitch OAuth, token request: cannot reach {nowhere}/oauth2/token" in log
