"""kiss.client.run: a bot process ends on SIGTERM and SIGINT, with Redis down, no traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.redis_server import PrivateRedis
from tests.waiting import wait_for

BOT = """
import asyncio, logging, sys
from kiss.client import ClientOptions, HubEventSubClient, run
from kiss.keys import Keys

logging.basicConfig(level=logging.INFO)

async def main() -> None:
    options = ClientOptions(backoff_base=0.05, backoff_max=0.2, block_ms=100)
    client = HubEventSubClient("1", "one", sys.argv[1], bot="runner", keys=Keys("runner"),
                               options=options)
    client.on("stream.online")(print)
    try:
        await client.start()
        print("started", flush=True)
        await asyncio.Event().wait()
    finally:
        await client.stop()
        print("stopped", flush=True)

run(main())
"""


def start_bot(url: str, tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path, Path]:
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-c", BOT, url], stdout=stdout, stderr=stderr)
    return process, out, err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_bot_waiting_for_redis_stops_on_a_signal(
    private_redis: PrivateRedis, tmp_path: Path, signum: signal.Signals
) -> None:
    private_redis.stop()
    process, out, err = start_bot(private_redis.url, tmp_path)
    try:
        wait_for(lambda: "Redis unavailable" in err.read_text(), 30, "retrying to join")
        process.send_signal(signum)
        process.wait(timeout=15)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, err.read_text()
    assert "Traceback" not in err.read_text()
    assert "started" not in out.read_text() and "stopped" in out.read_text()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_running_bot_whose_redis_went_away_stops_on_a_signal(
    private_redis: PrivateRedis, tmp_path: Path, signum: signal.Signals
) -> None:
    process, out, err = start_bot(private_redis.url, tmp_path)
    try:
        wait_for(lambda: "started" in out.read_text(), 30, "the bot started")
        private_redis.stop()
        wait_for(lambda: "Redis unavailable" in err.read_text(), 30, "retrying to read")
        process.send_signal(signum)
        process.wait(timeout=15)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, err.read_text()
    assert "Traceback" not in err.read_text()
    assert "stopped" in out.read_text()


def test_without_a_signal_an_error_of_main_still_raises(tmp_path: Path) -> None:
    code = (
        "from kiss.client import run\nasync def main():\n    raise ValueError('mine')\nrun(main())"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 1 and "ValueError: mine" in result.stderr
