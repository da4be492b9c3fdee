"""The README's bot, as written: it subscribes through `kiss control`, prints typed events and
stops on SIGTERM with exit 0 and no traceback.

Only the Redis address and key prefix are swapped in, so that the test stays off a hub that
may run on this machine.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import redis

from kiss.keys import Keys
from kiss.store.db import upgrade
from tests.client.conftest import entry
from tests.waiting import wait_for

README = Path(__file__).resolve().parents[2] / "README.md"
README_REDIS = 'redis_url="redis://127.0.0.1:6379/0"'


def readme_bot() -> str:
    section = README.read_text().split("## Writing a bot", 1)[1]
    blocks: list[str] = re.findall(r"```python\n(.*?)```", section, re.S)
    return blocks[0]


def test_the_readme_bot_subscribes_prints_typed_events_and_stops(
    redis_url: str, redis_client: redis.Redis, keys: Keys, sqlite_url: str, tmp_path: Path
) -> None:
    code = readme_bot()
    assert README_REDIS in code
    code = code.replace(README_REDIS, f"redis_url={redis_url!r}, keys=Keys({keys.prefix!r})")
    (tmp_path / "readme_bot.py").write_text("from kiss.keys import Keys\n" + code)
    upgrade(sqlite_url)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("KISSBOT_")},
        "KISSBOT_REDIS_URL": redis_url,
        "KISSBOT_KEY_PREFIX": keys.prefix,
        "KISSBOT_DATABASE_URL": sqlite_url,
        "KISSBOT_CELERY_QUEUE": f"{keys.prefix}:celery",  # under the prefix: cleaned up
        "PYTHONUNBUFFERED": "1",
    }
    control_log = (tmp_path / "control.log").open("w")
    bot_log = tmp_path / "bot.log"
    control = subprocess.Popen(
        [sys.executable, "-m", "kiss", "control", "--block-ms", "100"],
        env=env,
        stderr=control_log,
    )
    with bot_log.open("w") as out:
        bot = subprocess.Popen(
            [sys.executable, str(tmp_path / "readme_bot.py")],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    stream = keys.channel_stream("44456636")
    try:
        # The subscription was recorded and its reconcile queued: the bot is past subscribe().
        wait_for(lambda: redis_client.llen(f"{keys.prefix}:celery") >= 1, 30, "kiss.subscribe")
        redis_client.xadd(
            stream,
            entry(
                "44456636",
                event={
                    "id": "1",
                    "broadcaster_user_id": "44456636",
                    "broadcaster_user_login": "el_serda",
                    "broadcaster_user_name": "El_Serda",
                    "type": "live",
                    "started_at": "2026-12-04T18:30:00Z",
                },
            ),
        )
        redis_client.xadd(
            stream,
            entry(
                "44456636",
                type_="channel.chat.message",
                event={"chatter_user_name": "viewer", "message": {"text": "hi", "fragments": []}},
            ),
        )
        wait_for(lambda: "viewer: hi" in bot_log.read_text(), 30, "the chat line")
    finally:
        bot.send_signal(signal.SIGTERM)
        bot.wait(timeout=30)
        control.send_signal(signal.SIGTERM)
        control.wait(timeout=30)
        control_log.close()
    output = bot_log.read_text()
    assert bot.returncode == 0, output
    assert "El_Serda is live since 18:30 UTC" in output
    assert "Traceback" not in output
