"""A Redis outage under a steady load, for real: a private Redis, the simulator, a listener
process. Driven by tests/faults/test_redis_outage.py and bench/fault_scenarios/redis_outage.py.

The figures count what reached the listener's socket (the simulator's ``delivered``) against
what is in the channel streams afterwards: lost, duplicated, order inversions per channel.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests

from kiss.eventsub.timestamps import parse_timestamp
from kiss.keys import Keys
from kiss.listener.spool import spooled_entries
from kiss.simulator.config import DEMO_CLIENT_ID
from kiss.simulator.testing import SimulatorControl, SimulatorHandle, run_simulator_process
from tests.redis_server import PrivateRedis
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
LISTENER = "outage"
TYPE = "channel.update"


@dataclass
class Outage:
    """What to do: a load of ``rate`` events/s, Redis stopped after ``before`` s for
    ``outage`` s, the load going on ``after`` s; ``kill``: the listener is killed -9 at the
    end of the outage and started again once Redis is back."""

    rate: float
    before: float
    outage: float
    after: float
    channels: int = 20
    time_unit: float = 0.05
    kill: bool = False


@dataclass
class OutageFigures:
    events_sent: int = 0  # written by the simulator to the listener's socket
    lost_at_twitch: int = 0  # the simulator had no socket for them
    in_streams: int = 0
    lost_after_socket: int = 0
    duplicated: int = 0
    order_inversions: int = 0
    spool_peak_entries: int = 0
    drain_seconds: float | None = None  # Redis back -> the spool empty
    session_kept: bool = False
    sessions_lost_logged: int = 0
    gap_entries: int = 0
    notes: dict[str, Any] = field(default_factory=dict)


class _Run:
    def __init__(self, sim: SimulatorHandle, server: PrivateRedis, tmp: Path) -> None:
        self.sim = sim
        self.server = server
        self.tmp = tmp
        self.keys = Keys(f"outage-{uuid.uuid4().hex[:8]}")
        self.control = SimulatorControl(sim.base_url)
        self.token = str(self.control.token()["access_token"])
        self.spool = tmp / ".kiss-spool" / LISTENER
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KISSBOT_")},
            "PYTHONPATH": str(ROOT),
            "KISSBOT_REDIS_URL": server.url,
            "KISSBOT_KEY_PREFIX": self.keys.prefix,
            "KISSBOT_CELERY_QUEUE": f"q-{self.keys.prefix}",
            "KISSBOT_TWITCH__EVENTSUB_WS_URL": sim.ws_url,
            "KISSBOT_TWITCH__HELIX_URL": sim.helix_url,
            "KISSBOT_TWITCH__OAUTH_URL": sim.oauth_url,
            "KISSBOT_EVENTSUB__CONDUIT_SHARDS": "1",
            "KISSBOT_EVENTSUB__REQ_JITTER_MS": "0",
            "KISSBOT_STREAMS__MAXLEN": "1000000",
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def start_listener(self, time_unit: float) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "kiss", "listener", "--listener-id", LISTENER,
                   "--metrics-port", "0", "--time-unit", str(time_unit)]  # fmt: skip
        log = (self.tmp / "listener.log").open("ab")
        process = subprocess.Popen(command, env=self.env, cwd=self.tmp, stdout=log, stderr=log)
        self.processes.append(process)
        return process

    def log(self) -> str:
        return (self.tmp / "listener.log").read_text(errors="replace")

    def shard_session(self) -> str | None:
        for conduit in self.control.conduits():
            for shard in conduit["shards"]:
                if shard["status"] == "enabled":
                    return str(shard["transport"]["session_id"])
        return None

    def subscribe(self, conduit_id: str, channels: list[str]) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Client-Id": DEMO_CLIENT_ID}
        with requests.Session() as http:
            for channel in channels:
                body = {"type": TYPE, "version": "2",
                        "condition": {"broadcaster_user_id": channel},
                        "transport": {"method": "conduit", "conduit_id": conduit_id}}  # fmt: skip
                answer = http.post(f"{self.sim.helix_url}/eventsub/subscriptions", json=body,
                                   headers=headers, timeout=10)  # fmt: skip
                answer.raise_for_status()

    def count(self, client: redis.Redis, channels: list[str]) -> int:
        return sum(int(client.xlen(self.keys.channel_stream(channel)) or 0) for channel in channels)

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def run_outage(plan: Outage, tmp: Path, say: Callable[[str], None] = print) -> OutageFigures:
    figures = OutageFigures()
    server = PrivateRedis(str(tmp / "redis"))
    Path(server.directory).mkdir(parents=True, exist_ok=True)
    server.start()
    client = redis.Redis.from_url(server.url, decode_responses=True)
    channels = [str(700_000 + index) for index in range(plan.channels)]
    try:
        with run_simulator_process(time_unit=plan.time_unit) as sim:
            run = _Run(sim, server, tmp)
            try:
                _drive(run, plan, client, channels, figures, say)
            finally:
                run.close()
                figures.notes["log_tail"] = run.log()[-3000:]
                figures.sessions_lost_logged = run.log().count("session lost")
    finally:
        client.close()
        server.stop()
    return figures


def _drive(
    run: _Run,
    plan: Outage,
    client: redis.Redis,
    channels: list[str],
    figures: OutageFigures,
    say: Callable[[str], None],
) -> None:
    listener = run.start_listener(plan.time_unit)
    conduit_id = wait_for(lambda: client.hget(run.keys.conduit(), "id"), 30, "the conduit")
    run.subscribe(str(conduit_id), channels)
    session = wait_for(run.shard_session, 30, "the shard bound")
    total = plan.before + plan.outage + plan.after
    load = run.control.load(rate=plan.rate, channels=channels, duration=total, type_=TYPE)

    def sent() -> int:
        return int(run.control.load_status(load)["sent"])

    def reached(count: float) -> bool:
        status = run.control.load_status(load)
        return int(status["sent"]) >= count or not status["running"]

    wait_for(lambda: reached(plan.rate * plan.before), total + 30, "the load before the outage")
    run.server.stop()
    say(f"redis stopped after {sent()} events; down for {plan.outage:.0f} s of load")
    wait_for(lambda: reached(plan.rate * (plan.before + plan.outage)), total + 30, "the outage")
    figures.spool_peak_entries = spooled_entries(run.spool)
    if plan.kill:
        run.control.stop_load(load)
        listener.send_signal(signal.SIGKILL)
        listener.wait()
        figures.spool_peak_entries = spooled_entries(run.spool)
        say(f"listener killed -9 with {figures.spool_peak_entries} entries spooled")
    run.server.start()
    back = time.monotonic()
    say(f"redis back after {sent()} events")
    if plan.kill:
        run.start_listener(plan.time_unit)
    wait_for(lambda: spooled_entries(run.spool) == 0, 300, "the spool drained")
    figures.drain_seconds = round(time.monotonic() - back, 2)
    status = wait_for(
        lambda: (s := run.control.load_status(load)) and not s["running"] and s,
        total + 60,
        "the load to end",
    )
    figures.events_sent = int(status["delivered"])
    figures.lost_at_twitch = int(status["dropped"])
    if plan.kill:
        # What reached the killed listener's socket and its spool is what must arrive.
        figures.notes["expected"] = "events delivered before the kill"
    wait_for(
        lambda: run.count(client, channels) >= figures.events_sent, 120, "every event in Redis"
    )
    time.sleep(0.5 if plan.kill else 0)  # the restarted session may still add a gap marker
    _tally(run, client, channels, figures)
    figures.session_kept = run.shard_session() == session


def _tally(run: _Run, client: redis.Redis, channels: list[str], figures: OutageFigures) -> None:
    seen: set[str] = set()
    total = 0
    for channel in channels:
        last = 0.0
        for _id, row in client.xrange(run.keys.channel_stream(channel)) or []:
            fields = {str(key): str(value) for key, value in (row or {}).items()}
            if fields["kind"] == "gap":
                figures.gap_entries += 1
                continue
            total += 1
            seen.add(fields["message_id"])
            stamp = parse_timestamp(fields["twitch_ts"])
            if stamp < last:
                figures.order_inversions += 1
            last = max(last, stamp)
    figures.in_streams = len(seen)
    figures.duplicated = total - len(seen)
    figures.lost_after_socket = max(0, figures.events_sent - len(seen))
