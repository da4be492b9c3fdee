"""Listener killed (kill -9) under a flood and restarted 2 s later under the same id, as compose
and ``kiss run`` do. Targets: flowing again within 3 s of the restart, and lost after the socket
(delivered to the killed process, never written) at most 100 ms of the flood's traffic.

The simulator, Redis and the listener are separate processes; the flood is the simulator's own
load generator (``channel.update`` on 100 channels, over a conduit of 2 shards).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import redis
import requests
from harness import REDIS_URL, helix_headers, hub_environment, say, wait_for

from fault_scenarios import Figures
from kiss.keys import Keys
from kiss.listener.leases import lease_holder
from kiss.simulator.testing import SimulatorControl, SimulatorHandle, run_simulator_process

TYPE = "channel.update"
RESTART_AFTER = 2.0  # seconds between the kill and the restart, as compose does
TARGETS = {"resume_seconds": 3.0, "lost_after_socket_ms": 100.0}


class ListenerRig:
    """A simulator, this run's keys in Redis, a conduit of ``shards`` and listener processes."""

    def __init__(self, sim: SimulatorHandle, shards: int, channels: int) -> None:
        self.sim = sim
        self.shards = shards
        self.control = SimulatorControl(sim.base_url)
        self.keys = Keys(f"bench-{uuid.uuid4().hex[:8]}")
        self.redis = redis.Redis.from_url(REDIS_URL)
        self.tmp = Path(tempfile.mkdtemp(prefix=f"kiss-bench-{self.keys.prefix}-"))
        self.channels = [str(700_000 + i) for i in range(channels)]
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        token = str(self.control.token()["access_token"])
        self.http = requests.Session()
        self.http.headers.update(helix_headers(token))

    def start(self, name: str) -> subprocess.Popen[bytes]:
        env = hub_environment(self.keys.prefix, self.sim.ws_url, self.sim.helix_url,
                              self.sim.oauth_url)  # fmt: skip
        env |= {"KISSBOT_EVENTSUB__CONDUIT_SHARDS": str(self.shards),
                "KISSBOT_EVENTSUB__REQ_JITTER_MS": "0", "KISSBOT_LOG_LEVEL": "INFO"}  # fmt: skip
        command = [sys.executable, "-m", "kiss", "listener", "--listener-id", name,
                   "--metrics-port", "0"]  # fmt: skip
        log = (self.tmp / f"{name}.log").open("ab")
        child = subprocess.Popen(command, env=env, cwd=self.tmp, stdout=log, stderr=log)
        self.processes[f"{name}-{child.pid}"] = child
        return child

    def kill(self, child: subprocess.Popen[bytes]) -> float:
        child.kill()
        child.wait()
        return time.time()

    def conduit_id(self) -> str:
        found = wait_for(lambda: self.redis.hget(self.keys.conduit(), "id"), 30, "the conduit")
        return str(found.decode())

    def subscribe(self) -> None:
        conduit_id = self.conduit_id()
        for channel in self.channels:
            body = {
                "type": TYPE,
                "version": "2",
                "condition": {"broadcaster_user_id": channel},
                "transport": {"method": "conduit", "conduit_id": conduit_id},
            }
            answer = self.http.post(f"{self.sim.helix_url}/eventsub/subscriptions", json=body)
            answer.raise_for_status()

    def bound(self) -> dict[str, str]:
        """Shard id -> session id of every enabled shard (Twitch's side)."""
        data = self.control.conduits()
        shards = data[0]["shards"] if data else []
        return {
            str(s["id"]): str(s["transport"]["session_id"])
            for s in shards
            if s["status"] == "enabled"
        }

    def holders(self) -> dict[str, str | None]:
        conduit_id = self.conduit_id()
        ids = [str(shard) for shard in range(self.shards)]
        values = self.redis.mget([self.keys.shard_lease(conduit_id, shard) for shard in ids])
        return {shard: lease_holder(value) for shard, value in zip(ids, values, strict=True)}

    def flood(self, rate: float, duration: float) -> str:
        return self.control.load(rate=rate, channels=self.channels, duration=duration, type_=TYPE)

    def finished(self, load: str) -> dict[str, Any]:
        return dict(
            wait_for(
                lambda: (s := self.control.load_status(load)) and not s["running"] and s,
                within=120,
                what="the flood to end",
            )
        )

    def notifications(self) -> list[tuple[str, float, str]]:
        """(channel, received time, twitch_ts) of every notification written, stream order."""
        pipe = self.redis.pipeline(transaction=False)
        for channel in self.channels:
            pipe.xrange(self.keys.channel_stream(channel))
        found = []
        for channel, rows in zip(self.channels, pipe.execute(), strict=True):
            for _, fields in rows:
                if fields.get(b"kind") == b"notification":
                    found.append(
                        (channel, float(fields[b"received_ts"]), fields[b"twitch_ts"].decode())
                    )
        return found

    def message_ids(self) -> list[str]:
        pipe = self.redis.pipeline(transaction=False)
        for channel in self.channels:
            pipe.xrange(self.keys.channel_stream(channel))
        return [
            fields[b"message_id"].decode()
            for rows in pipe.execute()
            for _, fields in rows
            if fields.get(b"kind") == b"notification"
        ]

    def close(self) -> None:
        for child in self.processes.values():
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
        doomed = list(self.redis.scan_iter(match=f"{self.keys.prefix}:*", count=5000))
        for start in range(0, len(doomed), 5000):
            self.redis.unlink(*doomed[start : start + 5000])
        self.redis.close()


@contextmanager
def rig(shards: int, channels: int) -> Iterator[ListenerRig]:
    with ExitStack() as stack:
        sim = stack.enter_context(run_simulator_process(time_unit=1.0, rate_limit_points=10**9))
        made = ListenerRig(sim, shards, channels)
        stack.callback(made.close)
        yield made


def order_inversions(written: list[tuple[str, float, str]]) -> int:
    """Entries of a channel whose Twitch timestamp is older than the one before it."""
    last: dict[str, str] = {}
    inversions = 0
    for channel, _, stamp in written:
        if stamp < last.get(channel, ""):
            inversions += 1
        last[channel] = max(stamp, last.get(channel, ""))
    return inversions


def run(quick: bool) -> Figures:
    rate = 2_000 if quick else 5_000
    with rig(shards=2, channels=100) as hub:
        first = hub.start("phoenix")
        wait_for(lambda: len(hub.bound()) == 2, 30, "both shards bound")
        hub.subscribe()
        first_sessions = set(hub.bound().values())
        duration = 8.0
        say(f"listener_restart: flood at {rate} ev/s for {duration:g} s, kill -9 after 2 s")
        load = hub.flood(rate, duration)
        wait_for(lambda: len(hub.message_ids()) > rate, 30, "a second of the flood in Redis")
        killed_at = hub.kill(first)
        wait_for(lambda: time.time() > killed_at + RESTART_AFTER, 10, "the restart delay")
        restarted_at = time.time()
        hub.start("phoenix")

        def flowing() -> float | None:
            after = [at for _, at, _ in hub.notifications() if at > restarted_at]
            return min(after) if after else None

        first_new = wait_for(flowing, 30, "events from the restarted listener")
        resumed = first_new - restarted_at
        wait_for(
            lambda: (s := hub.bound()) and not set(s.values()) & first_sessions,
            30,
            "both shards bound to the restarted process",
        )
        bound = time.time() - restarted_at
        held_by = set(hub.holders().values())
        status = hub.finished(load)
        by_session = hub.control.stats()["by_session"]
        to_first = sum(n for session, n in by_session.items() if session in first_sessions)
        to_second = int(status["delivered"]) - to_first

        def counts() -> tuple[int, int]:
            written = hub.notifications()
            later = sum(1 for _, at, _ in written if at > killed_at)
            return len(written) - later, later

        wait_for(lambda: counts()[1] >= to_second, 30, "the restarted listener's writes")
        by_first, by_second = counts()
        ids = hub.message_ids()
        lost = to_first - by_first
        lost_ms = lost / rate * 1000
        figures: Figures = {
            "scenario": "listener_restart",
            "events_sent": int(status["sent"]),
            "lost_after_socket": lost + (to_second - by_second),
            "lost_after_socket_ms": round(lost_ms, 1),
            "lost_at_twitch": int(status["dropped"]),
            "duplicated": len(ids) - len(set(ids)),
            "order_inversions": order_inversions(hub.notifications()),
            "resume_seconds": round(resumed, 2),
            "convergence_seconds": None,
            "bound_seconds": round(bound, 2),
            "rate": rate,
            "restart_after_seconds": RESTART_AFTER,
            "held_by": sorted(str(h) for h in held_by),
        }
        figures["targets_met"] = (
            resumed <= TARGETS["resume_seconds"]
            and lost_ms <= TARGETS["lost_after_socket_ms"]
            and to_second == by_second
            and figures["duplicated"] == 0
            and held_by == {"phoenix"}
        )
        return figures
