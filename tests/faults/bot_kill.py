"""A bot process killed with -9 mid-flow and restarted: what it lost, repeated, reordered.

Shared by tests/faults/test_bot_killed.py and bench/fault_scenarios/bot_killed.py. The bot is
the real ``kiss bot`` process (one consumer of one channel, as most bots run); entries go into
its channel stream in the listener's format; the figures come from the lines it logs, one per
handled event, each naming the entry's stream id.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis

from kiss.keys import Keys
from tests.client.conftest import entry
from tests.waiting import wait_for

CHANNEL = "9001"
BOT = "faulty"
LINE = re.compile(rf"#{CHANNEL} \[(\d+-\d+)\] stream\.online")


@dataclass
class Flow:
    """The entries written, at a steady rate, from a thread."""

    client: redis.Redis
    stream: str
    total: int
    rate: float
    ids: list[str] = field(default_factory=list)

    def run(self) -> None:
        started = time.monotonic()
        for n in range(self.total):
            fields = entry(CHANNEL, event={"n": n, "broadcaster_user_name": f"n{n}"})
            self.ids.append(str(self.client.xadd(self.stream, fields)))
            ahead = started + (n + 1) / self.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)


def first_deliveries(logs: list[Path]) -> tuple[list[str], int]:
    """Stream ids in the order first handled across the bot's lives, and the repeats."""
    order: list[str] = []
    seen: set[str] = set()
    repeats = 0
    for log in logs:
        for stream_id in LINE.findall(log.read_text(errors="replace")):
            if stream_id in seen:
                repeats += 1
            else:
                seen.add(stream_id)
                order.append(stream_id)
    return order, repeats


def inversions(order: list[str]) -> int:
    """Entries first handled after a newer one (stream ids grow with the stream)."""
    newest: tuple[int, int] = (-1, -1)
    count = 0
    for stream_id in order:
        ms, seq = stream_id.split("-")
        key = (int(ms), int(seq))
        if key < newest:
            count += 1
        newest = max(newest, key)
    return count


def start_bot(redis_url: str, prefix: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KISSBOT_REDIS_URL": redis_url, "KISSBOT_KEY_PREFIX": prefix}
    command = [
        sys.executable, "-m", "kiss", "bot", "--channel-id", CHANNEL, "--channel-name", "faulty",
        "--bot", BOT, "--instance", "one", "--start", "beginning", "--topic", "stream.online",
    ]  # fmt: skip
    with log.open("wb") as stderr:
        return subprocess.Popen(command, env=env, stderr=stderr)


def kill_and_restart(
    redis_url: str, workdir: Path, *, total: int, rate: float, kill_at: int
) -> dict[str, Any]:
    """Run the flow, kill -9 the bot once ``kill_at`` entries are written, restart it at once."""
    prefix = f"botkill-{os.getpid()}-{time.monotonic_ns()}"
    keys = Keys(prefix)
    stream, group = keys.channel_stream(CHANNEL), keys.bot_group(BOT)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    logs = [workdir / "bot-1.log", workdir / "bot-2.log"]
    first = start_bot(redis_url, prefix, logs[0])
    second: subprocess.Popen[bytes] | None = None
    try:
        presence = keys.bot_presence(CHANNEL, BOT)
        wait_for(lambda: client.hget(presence, "state") == "running", 60, "the bot running")
        flow = Flow(client, stream, total, rate)
        writer = threading.Thread(target=flow.run, daemon=True)
        writer.start()
        wait_for(lambda: len(flow.ids) >= kill_at, 120, f"{kill_at} entries written")
        wait_for(lambda: first_deliveries(logs[:1])[0], 60, "the bot handling entries")
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = time.monotonic()
        pending_at_kill = int(client.xpending(stream, group)["pending"])
        second = start_bot(redis_url, prefix, logs[1])
        wait_for(lambda: LINE.search(logs[1].read_text(errors="replace")), 60, "handling again")
        resume_seconds = time.monotonic() - killed_at
        writer.join()

        def all_handled() -> bool:
            return len(first_deliveries(logs)[0]) >= len(flow.ids)

        wait_for(all_handled, 120, "every entry handled")
        wait_for(lambda: client.xpending(stream, group)["pending"] == 0, 60, "all acknowledged")
        consumers = sorted(str(c["name"]) for c in client.xinfo_consumers(stream, group))
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
        order, repeats = first_deliveries(logs)
        handled = set(order)
        figures: dict[str, Any] = {
            "events_sent": len(flow.ids),
            "lost_after_socket": sum(1 for i in flow.ids if i not in handled),
            "duplicated": repeats,
            "order_inversions": inversions(order),
            "resume_seconds": round(resume_seconds, 2),
            "pending_at_kill": pending_at_kill,
            "restart_exit_code": second.returncode,
            "consumers": consumers,  # of the group, before the restarted bot stopped
        }
        return figures
    finally:
        for bot in (first, second):
            if bot is not None and bot.poll() is None:
                bot.kill()
                bot.wait()
        client.delete(*client.keys(f"{prefix}:*") or ["none"])
        client.close()


def summary(figures: dict[str, Any]) -> str:
    return orjson.dumps(figures).decode()
