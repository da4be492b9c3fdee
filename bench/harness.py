"""Plumbing shared by the benchmarks: progress lines, waiting, child processes, CPU and RSS."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

DEMO_CLIENT_ID = "kiss-demo-client"
ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("KISS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def say(text: str) -> None:
    """A progress line on stderr; stdout carries only the figures."""
    print(text, file=sys.stderr, flush=True)


def wait_for(condition: Callable[[], Any], within: float, what: str) -> Any:
    """Poll ``condition`` until it is truthy; give up with a message after ``within`` s."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit(f"bench: timed out waiting for {what}")
        time.sleep(0.05)


def helix_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Client-Id": DEMO_CLIENT_ID}


@contextmanager
def process(
    command: list[str], *, stop_within: float = 20.0, **kwargs: Any
) -> Iterator[subprocess.Popen[str]]:
    """A child process, terminated (then killed) when the block ends."""
    child = subprocess.Popen(command, text=True, **kwargs)
    try:
        yield child
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=stop_within)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


class PeakRss:
    """Samples a process's RSS in a thread; ``stop()`` returns the peak in MB."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.02)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak / 1e6


def hub_environment(key_prefix: str, ws_url: str, helix_url: str, oauth_url: str) -> dict[str, str]:
    """A hub process's environment: this run's keys and queue, pointed at the simulator."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("KISSBOT_")},
        "PYTHONPATH": str(ROOT),
        "KISSBOT_REDIS_URL": REDIS_URL,
        "KISSBOT_KEY_PREFIX": key_prefix,
        "KISSBOT_CELERY_QUEUE": f"q-{key_prefix}",
        "KISSBOT_LOG_LEVEL": "WARNING",
        "KISSBOT_TWITCH__EVENTSUB_WS_URL": ws_url,
        "KISSBOT_TWITCH__HELIX_URL": helix_url,
        "KISSBOT_TWITCH__OAUTH_URL": oauth_url,
        "KISSBOT_EVENTSUB__CONDUIT_SHARDS": "1",
    }
