"""`kiss bot`: the example bot as a process (kiss/cli/bot.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from kiss.cli.bot import bot as bot_command
from kiss.cli.bot import start_position
from kiss.keys import Keys
from tests.client.conftest import entry
from tests.redis_server import PrivateRedis
from tests.waiting import wait_for


def test_an_unknown_topic_is_refused_by_the_command() -> None:
    result = CliRunner().invoke(
        bot_command, ["--channel-id", "1", "--channel-name", "x", "--topic", "stream.onlin"]
    )
    assert result.exit_code != 0
    assert "unknown subscription type 'stream.onlin'" in result.output


def test_kiss_bot_runs_logs_and_stops_on_sigterm(
    redis_url: str, redis_client: redis.Redis, keys: Keys, tmp_path: Path
) -> None:
    env = {**os.environ, "KISSBOT_REDIS_URL": redis_url, "KISSBOT_KEY_PREFIX": keys.prefix}
    log_path = tmp_path / "bot.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "kiss", "bot", "--channel-id", "77", "--channel-name", "d77"],
            env=env,
            stderr=log_file,
        )
    stream = keys.channel_stream("77")
    presence = keys.bot_presence("77", "kissbot")
    try:
        wait_for(lambda: redis_client.hget(presence, "state") == "running", 30, "presence")
        redis_client.xadd(stream, entry("77", event={"broadcaster_user_name": "Demo"}))
        wait_for(
            lambda: "Demo went live" in log_path.read_text(), 30, "the event's line in the log"
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0, log_path.read_text()
    assert "stream.online: Demo went live" in log_path.read_text()
    assert redis_client.hget(presence, "state") == "stopped", log_path.read_text()
    assert redis_client.xpending(stream, "bot:kissbot")["pending"] == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_kiss_bot_with_redis_down_stops_on_a_signal(tmp_path: Path, signum: signal.Signals) -> None:
    down = PrivateRedis(str(tmp_path))  # its port, never started: nobody listens there
    env = {**os.environ, "KISSBOT_REDIS_URL": down.url}
    log_path = tmp_path / "bot.log"
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "kiss", "bot", "--channel-id", "5", "--channel-name", "d5"],
            env=env,
            stderr=log_file,
        )
    try:
        wait_for(lambda: "Redis unavailable" in log_path.read_text(), 30, "retrying Redis")
        process.send_signal(signum)
        process.wait(timeout=20)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, log_path.read_text()
    assert "Traceback" not in log_path.read_text()


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--start", "yesterday"], "want now, beginning, epoch seconds or an ISO 8601 time"),
        (["--start", "2026-12-03T18:00:00"], "with a zone"),
        (["--bot", "two words"], "bot name 'two words'"),
        (["--instance", "a b"], "ClientOptions.instance must be a word"),
    ],
)
def test_bad_bot_options_are_named(args: list[str], problem: str) -> None:
    result = CliRunner().invoke(bot_command, ["--channel-id", "1", "--channel-name", "x", *args])
    assert result.exit_code != 0
    assert problem in result.output


def test_start_positions() -> None:
    assert start_position("now") == "now"
    assert start_position("beginning") == "beginning"
    assert start_position("1700000000.5") == 1700000000.5
    assert start_position("2026-12-03T18:00:00+00:00") == datetime(2026, 12, 3, 18, tzinfo=UTC)
