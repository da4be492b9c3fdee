"""Ingest benchmark: the simulator floods notifications across 1,000 channels at one listener.

Everything runs as separate processes on this machine (simulator, listener, a bare client),
so each one's CPU and memory are measured on its own. Printed, all from the same run:

- the source's own rate, with a bare WebSocket client that throws every frame away;
- the listener's sustained events per second into Redis (from the stream entry ids);
- CPU microseconds per event of the listener and of the bare client for the same flood
  (same frames, to channels of their own conduits), and their ratio: the two sides take
  3 (``--quick``) or 5 turns, each turn's ratio compares them in the same conditions, and
  the ratio printed is the median of the turns' (the ratio of each side's best turn is in
  the JSON too); each side's CPU per event is its best turn, since noise on a shared
  machine only ever adds CPU time;
- end-to-end latency p50/p99 from the simulator's send (message_timestamp) to the entry
  being readable (its stream id: Redis's clock, to ±0.5 ms) at a steady 1,000 events per second;
- the listener's peak RSS with 10,000 subscriptions.

    python bench/ingest.py [--quick] [--events N]

The last line is one JSON object with the figures. ``--quick`` finishes within 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import redis
import requests
from harness import (
    REDIS_URL,
    ROOT,
    PeakRss,
    cpu_seconds,
    helix_headers,
    hub_environment,
    process,
    say,
    wait_for,
)

from kiss.eventsub.timestamps import parse_timestamp
from kiss.keys import Keys
from kiss.simulator.testing import SimulatorControl, SimulatorHandle, run_simulator_process

CHANNELS = 1_000
SUBSCRIPTIONS = 10_000
TARGETS = {"events_per_s": 40_000, "cpu_ratio": 3.0, "p99_ms": 10.0, "rss_mb": 60.0}
CHAT = "channel.chat.message"  # a realistic frame of about 1 KB


async def bare_client(ws_url: str, helix_url: str, conduit_id: str) -> None:
    from websockets.asyncio.client import connect

    token = os.environ["KISS_BENCH_TOKEN"]  # not on the command line, where ps shows it
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with connect(ws_url, ping_interval=None, compression=None, max_size=1 << 22) as ws:
        welcome = orjson.loads(await ws.recv())
        session_id = welcome["payload"]["session"]["id"]
        bind_shard(helix_url, token, conduit_id, session_id)
        print("ready", flush=True)
        count = 0

        async def drain() -> None:
            nonlocal count
            async for _ in ws:
                count += 1

        reader = asyncio.create_task(drain())
        await stop.wait()
        reader.cancel()
    print(count, flush=True)


def bind_shard(helix_url: str, token: str, conduit_id: str, session_id: str) -> None:
    body = {
        "conduit_id": conduit_id,
        "shards": [{"id": "0", "transport": {"method": "websocket", "session_id": session_id}}],
    }
    answer = requests.patch(
        f"{helix_url}/eventsub/conduits/shards", json=body, headers=helix_headers(token), timeout=10
    )
    answer.raise_for_status()


# -- setup -------------------------------------------------------------------------------------


class Bench:
    def __init__(self, sim: SimulatorHandle, quick: bool, events: int) -> None:
        self.sim = sim
        self.quick = quick
        self.events = events
        self.control = SimulatorControl(sim.base_url)
        self.keys = Keys(f"bench-{uuid.uuid4().hex[:8]}")
        self.redis = redis.Redis.from_url(REDIS_URL)
        self.token = str(self.control.token()["access_token"])
        self.http = requests.Session()
        self.http.headers.update(helix_headers(self.token))
        self.conduit_id = self.new_conduit()  # the listener's
        self.bare_conduit_id = self.new_conduit()
        self.redis.hset(self.keys.conduit(), mapping={"id": self.conduit_id, "shard_count": 1})
        self.tmp = Path(tempfile.mkdtemp(prefix=f"kiss-bench-{self.keys.prefix}-"))

    def new_conduit(self) -> str:
        answer = self.http.post(f"{self.sim.helix_url}/eventsub/conduits", json={"shard_count": 1})
        answer.raise_for_status()
        return str(answer.json()["data"][0]["id"])

    def subscribe(self, type_: str, channels: list[str], conduit_id: str | None = None) -> None:
        version = "1" if type_ == CHAT else "2"
        conduit_id = conduit_id or self.conduit_id

        def one(channel: str) -> None:
            session = self._thread_session()
            if type_ == CHAT:  # the chatter is the broadcaster: one grant covers both roles
                self.control.authorize(channel, ["user:read:chat", "user:bot"])
            condition = {"broadcaster_user_id": channel}
            if type_ == CHAT:
                condition["user_id"] = channel
            body = {
                "type": type_,
                "version": version,
                "condition": condition,
                "transport": {"method": "conduit", "conduit_id": conduit_id},
            }
            answer = session.post(f"{self.sim.helix_url}/eventsub/subscriptions", json=body)
            if answer.status_code not in (202, 409):
                problem = f"{answer.status_code} {answer.text}"
                raise SystemExit(f"bench: subscribe {channel} -> {problem}")

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, channels))

    _local = threading.local()

    def _thread_session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update(helix_headers(self.token))
            self._local.session = session
        return session

    def shard_session(self, conduit_id: str | None = None) -> str | None:
        conduit_id = conduit_id or self.conduit_id
        data = self.control.call("GET", "/conduits")["data"]
        conduit = next((c for c in data if c["id"] == conduit_id), None)
        shard = conduit["shards"][0] if conduit and conduit["shards"] else None
        if shard is None or shard["status"] != "enabled":
            return None
        return str(shard["transport"].get("session_id"))

    def flood(self, *, rate: float, channels: list[str], total: int | None = None,
              duration: float | None = None, type_: str = CHAT) -> dict[str, Any]:  # fmt: skip
        load = self.control.load(
            rate=rate, channels=channels, total=total, duration=duration, type_=type_
        )
        return dict(
            wait_for(
                lambda: (s := self.control.load_status(load)) and not s["running"] and s,
                within=300,
                what="the load to finish",
            )
        )

    def trigger_all(self, type_: str, rounds: int) -> int:
        answer = self.http.post(
            f"{self.sim.base_url}/control/trigger",
            json={"type": type_, "count": rounds},
            timeout=300,
        )
        answer.raise_for_status()
        return int(answer.json()["sent"])

    def listener_env(self) -> dict[str, str]:
        sim = self.sim
        env = hub_environment(self.keys.prefix, sim.ws_url, sim.helix_url, sim.oauth_url)
        return {**env, "KISSBOT_EVENTSUB__REQ_JITTER_MS": "0"}

    def routed(self) -> int:
        return int(self.redis.hget(self.keys.counters(), "events_routed") or 0)

    def streams(self, channels: list[str]) -> list[str]:
        return [self.keys.channel_stream(channel) for channel in channels]

    def reached(self, count: int) -> bool:
        return self.routed() >= count

    def id_span_ms(self, channels: list[str], after_ms: int = 0) -> tuple[int, int]:
        """Earliest (from ``after_ms`` on) and latest entry id (Redis ms) over the channels."""
        pipe = self.redis.pipeline(transaction=False)
        for stream in self.streams(channels):
            pipe.xrange(stream, min=f"{after_ms}-0", count=1)
            pipe.xrevrange(stream, count=1)
        ids = [int(rows[0][0].split(b"-")[0]) for rows in pipe.execute() if rows]
        return min(ids), max(ids)

    def latencies_ms(self, channels: list[str], after_ms: int) -> list[float]:
        pipe = self.redis.pipeline(transaction=False)
        for stream in self.streams(channels):
            pipe.xrange(stream, min=f"{after_ms}-0")
        found = []
        for rows in pipe.execute():
            for entry_id, fields in rows:
                if fields.get(b"kind") != b"notification":
                    continue
                # The entry id holds Redis's clock in whole ms: take the middle of that ms.
                readable = int(entry_id.split(b"-")[0]) + 0.5
                sent = parse_timestamp(fields[b"twitch_ts"].decode()) * 1000
                found.append(readable - sent)
        return found

    def cleanup(self) -> None:
        self.unlink(f"{self.keys.prefix}:*")
        self.redis.delete(f"q-{self.keys.prefix}")

    def clear_flood(self, channels: list[str]) -> None:
        """Drop a flood's entries and dedup keys, so that every round writes into the same
        Redis: 300,000 entries a round (400 MB) would otherwise slow the later rounds."""
        self.redis.unlink(*self.streams(channels))
        self.unlink(self.keys.dedup_message("*"))
        self.unlink(self.keys.dedup_event("*", "*"))

    def unlink(self, pattern: str) -> None:
        doomed = list(self.redis.scan_iter(match=pattern, count=5000))
        for start in range(0, len(doomed), 5000):
            self.redis.unlink(*doomed[start : start + 5000])


# -- phases ------------------------------------------------------------------------------------


def bare_command(bench: Bench) -> tuple[list[str], dict[str, str]]:
    """The bare client's command line and environment (the token is not on the line: ps)."""
    command = [sys.executable, __file__, "--bare-client", bench.sim.ws_url, bench.sim.helix_url,
               bench.bare_conduit_id]  # fmt: skip
    return command, {**os.environ, "PYTHONPATH": str(ROOT), "KISS_BENCH_TOKEN": bench.token}


def stop_bare_client(bare: subprocess.Popen[str], sent: int) -> None:
    """Stop the bare client; it says how many frames it received."""
    assert bare.stdout is not None
    bare.send_signal(signal.SIGTERM)
    received = int(bare.stdout.readline().strip() or 0)
    bare.wait(timeout=10)
    if received < sent * 0.99:
        say(f"bench: bare client received {received} of {sent}")


def bare_round(bench: Bench, pid: int, channels: list[str]) -> tuple[int, float, float]:
    """One full-speed flood at the bare client: (delivered, source rate, CPU µs per event)."""
    before = cpu_seconds(pid)
    status = bench.flood(rate=0, total=bench.events, channels=channels)
    time.sleep(0.2)  # let the last frames arrive; the client only counts them
    delivered = int(status["delivered"])
    cost = (cpu_seconds(pid) - before) / max(1, delivered) * 1e6
    rate = delivered / max(1e-9, status["finished_at"] - status["started_at"])
    return delivered, rate, cost


def listener_round(bench: Bench, pid: int, channels: list[str]) -> tuple[float, float]:
    """One full-speed flood at the listener: (events per second into Redis, CPU µs per event)."""
    routed = bench.routed()
    mark_ms = int(time.time() * 1000)
    before = cpu_seconds(pid)
    status = bench.flood(rate=0, total=bench.events, channels=channels)
    delivered = int(status["delivered"])
    wait_for(partial(bench.reached, routed + delivered), 120, "the flood to reach Redis")
    spent = cpu_seconds(pid) - before
    first_ms, last_ms = bench.id_span_ms(channels, after_ms=mark_ms)
    bench.clear_flood(channels)
    return delivered / max(1e-3, (last_ms - first_ms) / 1000), spent / max(1, delivered) * 1e6


def run(quick: bool, events: int) -> dict[str, Any]:
    started = time.monotonic()
    with run_simulator_process(time_unit=1.0, rate_limit_points=10**9) as sim:
        bench = Bench(sim, quick, events)
        try:
            channels = [str(100_000 + i) for i in range(CHANNELS)]
            bare_channels = [str(300_000 + i) for i in range(CHANNELS)]  # same-sized frames
            say(f"subscribing {CHANNELS} channels to {CHAT} on the listener's conduit, "
                f"{CHANNELS} others on the bare client's")  # fmt: skip
            bench.subscribe(CHAT, channels)
            bench.subscribe(CHAT, bare_channels, bench.bare_conduit_id)

            command = [sys.executable, "-m", "kiss", "listener", "--listener-id", "bench",
                       "--metrics-port", "0"]  # fmt: skip
            log = (bench.tmp / "listener.log").open("w")
            bare_line, bare_env = bare_command(bench)
            with (
                process(bare_line, env=bare_env, stdout=subprocess.PIPE) as bare,
                process(command, env=bench.listener_env(), cwd=bench.tmp, stdout=log,
                        stderr=log) as listener,
            ):  # fmt: skip
                assert bare.stdout is not None
                if bare.stdout.readline().strip() != "ready":
                    raise SystemExit("bench: the bare client did not start")
                rss = PeakRss(listener.pid)
                wait_for(bench.shard_session, 20, "the listener to bind its shard")

                # The two sides take turns, so that each round compares them in the same
                # conditions (this machine's speed drifts by tens of percent within a minute):
                # the ratio is the median of the rounds' own. Each side's CPU per event is its
                # best round (noise only ever adds CPU time).
                rounds = 3 if quick else 5
                say(f"full speed: {events} events per round to each side in turn, {rounds} rounds")
                source_rate, bare_us = 0.0, float("inf")
                listener_rate, listener_us = 0.0, float("inf")
                ratios: list[float] = []
                sent = 0
                for number in range(1, rounds + 1):
                    delivered, rate, cost = bare_round(bench, bare.pid, bare_channels)
                    sent += delivered
                    source_rate, bare_us = max(source_rate, rate), min(bare_us, cost)
                    into_redis, spent = listener_round(bench, listener.pid, channels)
                    listener_rate = max(listener_rate, into_redis)
                    listener_us = min(listener_us, spent)
                    ratios.append(spent / cost)
                    say(f"  round {number}: source {rate:,.0f} ev/s; bare client {cost:.1f} "
                        f"µs/event; listener {into_redis:,.0f} ev/s into Redis, {spent:.1f} "
                        f"µs/event (ratio {spent / cost:.2f})")  # fmt: skip
                stop_bare_client(bare, sent)
                flushes = int(bench.redis.hget(bench.keys.listener_state("bench"), "flushes") or 1)
                say(f"  best: source {source_rate:,.0f} ev/s, bare client {bare_us:.1f} µs/event, "
                    f"listener {listener_rate:,.0f} ev/s and {listener_us:.1f} µs/event, "
                    f"~{bench.routed() / flushes:.0f} entries per flush; CPU ratio, median of the "
                    f"rounds: {statistics.median(ratios):.2f}")  # fmt: skip

                duration = 5.0 if quick else 20.0
                say(f"latency: 1,000 ev/s for {duration:.0f} s")
                mark_ms = int(time.time() * 1000) + 1
                routed = bench.routed()
                status = bench.flood(rate=1000, duration=duration, channels=channels)
                target = routed + int(status["delivered"])
                wait_for(lambda: bench.routed() >= target, 60, "the steady load to reach Redis")
                latencies = sorted(bench.latencies_ms(channels, mark_ms))
                p50 = statistics.median(latencies)
                p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
                say(f"  p50 {p50:.2f} ms, p99 {p99:.2f} ms over {len(latencies)} events")

                # The simulator checks each new subscription against all others, so creating
                # 10,000 takes about a minute: --quick measures with fewer.
                wide = 2_000 if quick else SUBSCRIPTIONS
                extra = [str(200_000 + i) for i in range(wide)]
                say(f"memory: {wide} subscriptions, a flood across all of them")
                bench.subscribe("channel.update", extra)
                routed = bench.routed()
                rounds = 2 if quick else 5
                # A trigger with no broadcaster reaches every subscription of the type: one
                # event per channel per round, across all 10,000.
                sent = bench.trigger_all("channel.update", rounds)
                wait_for(lambda: bench.routed() >= routed + sent, 120, "the wide flood in Redis")
                peak_mb = rss.stop()
                say(f"  peak RSS {peak_mb:.1f} MB")
                listener.send_signal(signal.SIGTERM)
                exit_code = listener.wait(timeout=30)
        finally:
            bench.cleanup()
    figures: dict[str, Any] = {
        "source_events_per_s": round(source_rate),
        "listener_events_per_s": round(listener_rate),
        "listener_cpu_us_per_event": round(listener_us, 2),
        "bare_client_cpu_us_per_event": round(bare_us, 2),
        "cpu_ratio": round(statistics.median(ratios), 2),
        "cpu_ratio_of_best_rounds": round(listener_us / bare_us, 2),
        "latency_p50_ms": round(p50, 2),
        "latency_p99_ms": round(p99, 2),
        "peak_rss_mb": round(peak_mb, 1),
        "events": events,
        "channels": CHANNELS,
        "subscriptions": wide,
        "listener_exit_code": exit_code,
        "quick": quick,
        "seconds": round(time.monotonic() - started, 1),
    }
    figures["targets_met"] = {
        "events_per_s": figures["listener_events_per_s"] >= TARGETS["events_per_s"],
        "cpu_ratio": figures["cpu_ratio"] <= TARGETS["cpu_ratio"],
        "p99_ms": figures["latency_p99_ms"] <= TARGETS["p99_ms"],
        "rss_mb": figures["peak_rss_mb"] <= TARGETS["rss_mb"],
    }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shorter run (within 60 s)")
    parser.add_argument("--events", type=int, default=None, help="events per full-speed flood")
    parser.add_argument("--bare-client", nargs=3, metavar=("WS", "HELIX", "CONDUIT"),
                        help=argparse.SUPPRESS)  # fmt: skip
    args = parser.parse_args()
    if args.bare_client:
        asyncio.run(bare_client(*args.bare_client))
        return
    events = args.events or (100_000 if args.quick else 300_000)
    figures = run(args.quick, events)
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    main()
