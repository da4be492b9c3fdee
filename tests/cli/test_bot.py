"""`kiss bot`: the example bot as a process (kiss/cli/bot.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import redis
from click.testing import CliRunner

from kiss.cli.bot import bot as bot_command
from kiss.keys import Keys
from tests.client.conftest import entry
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
    assert redis_client.hget(presence, "state") == "stopped"
    assert redis_client.xpending(stream, "bot:kissbot")["pending"] == 0
