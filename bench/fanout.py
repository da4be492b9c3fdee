"""Fan-out benchmark: 1,000 bots (in a few processes) consume their channels through the hub.

The simulator emits events across 1,000 channels at a steady total rate (5,000/s by
default) to one listener process, which writes them to the channels' Redis streams; bot
processes, each running its share of the 1,000 ``HubEventSubClient`` objects on one shared
``HubConnection``, consume and acknowledge them. Printed, from the same run:

- events handled per second by the bots (over the load's duration);
- lost events (sent by the simulator, never handled) and duplicates (handled twice);
- latency p50 / p99 from the simulator's send (``message_timestamp``) to the handler;
- memory per bot (growth of a bot process's RSS per bot attached) and the processes' RSS.

    python bench/fanout.py [--quick] [--rate 5000] [--seconds 30] [--processes N]

The last line is one JSON object with the figures. ``--quick`` finishes within 60 s.
Targets: nothing lost, p99 at most 20 ms.
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
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Any

import orjson
import psutil
import redis
import requests
from harness import (
    REDIS_URL,
    cpu_seconds,
    helix_headers,
    hub_environment,
    percentile,
    process,
    say,
    wait_for,
)

from kiss.eventsub.timestamps import parse_timestamp
from kiss.keys import Keys
from kiss.simulator.testing import SimulatorControl, SimulatorHandle, run_simulator_process

BOTS = 1_000
TYPE = "stream.online"  # a scope-less type: every channel subscribes with the app token
TARGETS = {"lost": 0, "p99_ms": 20.0}


def rss_bytes() -> int:
    return int(psutil.Process().memory_info().rss)


async def bot_process(prefix: str, channels: list[str], out: IO[str]) -> None:
    from kiss.client import ClientOptions, HubConnection, HubEventSubClient, Notification

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    keys = Keys(prefix)
    options = ClientOptions(instance=f"bench-{os.getpid()}", count=128)
    connection = HubConnection(REDIS_URL, keys=keys, options=options)
    seen: Counter[str] = Counter()
    latencies: list[float] = []
    # Where the time goes: simulator -> listener, listener -> Redis, Redis -> handler.
    legs: list[tuple[float, float, float]] = []

    def handle(event: Notification) -> None:
        now = time.time()
        sent = parse_timestamp(event.twitch_ts)
        stored = event.stream_ms / 1000
        latencies.append(now - sent)
        legs.append((event.received_ts - sent, stored - event.received_ts, now - stored))
        seen[event.message_id] += 1

    before = rss_bytes()
    clients = []
    for channel in channels:
        client = HubEventSubClient(
            channel, f"bench{channel}", keys=keys, connection=connection, bot="bench"
        )
        client.on(TYPE)(handle)
        clients.append(client)
    await asyncio.gather(*(client.start() for client in clients))
    attached = rss_bytes()
    print("ready", file=out, flush=True)
    await stop.wait()
    peak = rss_bytes()
    await asyncio.gather(*(client.stop() for client in clients))
    await connection.close()
    columns = list(zip(*legs, strict=True))
    report = {
        "handled": sum(seen.values()),
        "unique": len(seen),
        "duplicates": sum(n - 1 for n in seen.values() if n > 1),
        "latencies_ms": [round(x * 1000, 3) for x in latencies],
        "legs_p50_ms": [round(statistics.median(leg) * 1000, 2) for leg in columns],
        "legs_p99_ms": [round(percentile(sorted(leg), 0.99) * 1000, 2) for leg in columns],
        "bytes_per_bot": (attached - before) / max(1, len(channels)),
        "rss_mb": peak / 1e6,
    }
    print(orjson.dumps(report).decode(), file=out, flush=True)


# -- the harness -------------------------------------------------------------------------


class Harness:
    def __init__(self, sim: SimulatorHandle) -> None:
        self.sim = sim
        self.control = SimulatorControl(sim.base_url)
        self.keys = Keys(f"bench-fanout-{uuid.uuid4().hex[:8]}")
        self.redis = redis.Redis.from_url(REDIS_URL, decode_responses=True)
        self.token = str(self.control.token()["access_token"])
        answer = requests.post(
            f"{sim.helix_url}/eventsub/conduits",
            json={"shard_count": 1},
            headers=helix_headers(self.token),
            timeout=10,
        )
        answer.raise_for_status()
        self.conduit_id = str(answer.json()["data"][0]["id"])
        self.redis.hset(self.keys.conduit(), mapping={"id": self.conduit_id, "shard_count": 1})
        self.tmp = Path(tempfile.mkdtemp(prefix=f"kiss-{self.keys.prefix}-"))
        self._local = threading.local()

    def subscribe(self, channels: list[str]) -> None:
        def one(channel: str) -> None:
            session = getattr(self._local, "session", None)
            if session is None:
                session = self._local.session = requests.Session()
                session.headers.update(helix_headers(self.token))
            body = {
                "type": TYPE,
                "version": "1",
                "condition": {"broadcaster_user_id": channel},
                "transport": {"method": "conduit", "conduit_id": self.conduit_id},
            }
            answer = session.post(f"{self.sim.helix_url}/eventsub/subscriptions", json=body)
            if answer.status_code not in (202, 409):
                raise SystemExit(f"bench: subscribe {channel} -> {answer.status_code}")

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(one, channels))

    def shard_bound(self) -> bool:
        data = self.control.call("GET", "/conduits")["data"]
        shards = data[0]["shards"] if data else []
        return bool(shards) and shards[0]["status"] == "enabled"

    def env(self) -> dict[str, str]:
        sim = self.sim
        return hub_environment(self.keys.prefix, sim.ws_url, sim.helix_url, sim.oauth_url)

    def drained(self, channels: list[str], group: str) -> bool:
        """Every bot's group has nothing left to deliver and nothing pending."""
        pipe = self.redis.pipeline(transaction=False)
        for channel in channels:
            pipe.xinfo_groups(self.keys.channel_stream(channel))
        for groups in pipe.execute():
            mine = [g for g in groups if g["name"] == group]
            if not mine or mine[0]["pending"] or mine[0]["lag"]:
                return False
        return True

    def routed(self) -> int:
        return int(self.redis.hget(self.keys.counters(), "events_routed") or 0)

    def cleanup(self) -> None:
        doomed = list(self.redis.scan_iter(match=f"{self.keys.prefix}:*", count=5000))
        for start in range(0, len(doomed), 5000):
            self.redis.delete(*doomed[start : start + 5000])
        self.redis.delete(f"q-{self.keys.prefix}")


def start_bots(
    stack: ExitStack, harness: Harness, channels: list[str], processes: int
) -> list[subprocess.Popen[str]]:
    bots = []
    for index in range(processes):
        share = channels[index::processes]
        command = [sys.executable, __file__, "--bot-process", harness.keys.prefix, *share]
        log = stack.enter_context((harness.tmp / f"bots-{index}.log").open("w"))
        bots.append(
            stack.enter_context(
                process(command, env=harness.env(), stdout=subprocess.PIPE, stderr=log)
            )
        )
    for bot in bots:
        assert bot.stdout is not None
        if bot.stdout.readline().strip() != "ready":
            raise SystemExit(f"bench: a bot process did not start (see {harness.tmp})")
    return bots


def run(quick: bool, rate: float, seconds: float, processes: int) -> dict[str, Any]:
    started = time.monotonic()
    channels = [str(300_000 + i) for i in range(BOTS)]
    with run_simulator_process(time_unit=1.0, rate_limit_points=10**9) as sim, ExitStack() as stack:
        harness = Harness(sim)
        stack.callback(harness.cleanup)
        say(f"subscribing {BOTS} channels to {TYPE} on conduit {harness.conduit_id}")
        harness.subscribe(channels)
        listener_log = stack.enter_context((harness.tmp / "listener.log").open("w"))
        command = [sys.executable, "-m", "kiss", "listener", "--listener-id", "fanout",
                   "--metrics-port", "0"]  # fmt: skip
        listener = stack.enter_context(
            process(
                command,
                env=harness.env(),
                cwd=harness.tmp,
                stdout=listener_log,
                stderr=listener_log,
            )
        )
        wait_for(harness.shard_bound, 30, "the listener to bind its shard")
        say(f"starting {BOTS} bots in {processes} processes")
        bots = start_bots(stack, harness, channels, processes)

        cpu_before = sum(cpu_seconds(bot.pid) for bot in bots)
        say(f"load: {rate:,.0f} events/s for {seconds:g} s across {BOTS} channels")
        load = harness.control.load(rate=rate, channels=channels, duration=seconds, type_=TYPE)
        status = wait_for(
            lambda: (s := harness.control.load_status(load)) and not s["running"] and s,
            seconds + 60,
            "the load to finish",
        )
        sent = int(status["delivered"])
        wait_for(lambda: harness.routed() >= sent, 60, "the load to reach Redis")
        drained_at = wait_for(
            lambda: harness.drained(channels, harness.keys.bot_group("kissbot")) and time.time(),
            60,
            "the bots to drain their streams",
        )
        load_seconds = max(1e-3, drained_at - status["started_at"])
        routed = harness.routed()
        bot_cpu = sum(cpu_seconds(bot.pid) for bot in bots) - cpu_before
        reports = []
        for bot in bots:
            bot.send_signal(signal.SIGTERM)
        for bot in bots:
            assert bot.stdout is not None
            reports.append(orjson.loads(bot.stdout.readline()))
            bot.wait(timeout=30)
        listener.send_signal(signal.SIGTERM)
        listener.wait(timeout=30)

    handled = sum(r["handled"] for r in reports)
    unique = sum(r["unique"] for r in reports)
    latencies = sorted(x for r in reports for x in r["latencies_ms"])
    figures: dict[str, Any] = {
        "bots": BOTS,
        "processes": processes,
        "rate_target": rate,
        "sent": sent,
        "routed": routed,
        "handled": handled,
        "events_per_s": round(unique / load_seconds),
        "lost": sent - unique,
        "duplicates": sum(r["duplicates"] for r in reports),
        "latency_p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "latency_p99_ms": round(percentile(latencies, 0.99), 2),
        "latency_max_ms": round(latencies[-1], 2) if latencies else None,
        # Per bot process: [simulator -> listener, listener -> Redis, Redis -> handler].
        "legs_p50_ms": [r["legs_p50_ms"] for r in reports],
        "legs_p99_ms": [r["legs_p99_ms"] for r in reports],
        # CPU the bot processes spent per event (reading, dispatch, handler, ack, presence).
        "bot_cpu_us_per_event": round(bot_cpu / max(1, handled) * 1e6, 1),
        "memory_per_bot_kb": round(statistics.mean(r["bytes_per_bot"] for r in reports) / 1024, 1),
        "bot_process_rss_mb": [round(r["rss_mb"], 1) for r in reports],
        "quick": quick,
        "seconds": round(time.monotonic() - started, 1),
    }
    figures["targets_met"] = {
        "lost": figures["lost"] <= TARGETS["lost"],
        "p99_ms": figures["latency_p99_ms"] <= TARGETS["p99_ms"],
    }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a shorter run (within 60 s)")
    parser.add_argument("--rate", type=float, default=5000.0, help="events per second, total")
    parser.add_argument("--seconds", type=float, default=None, help="load duration")
    parser.add_argument(
        "--processes",
        type=int,
        default=max(2, os.cpu_count() or 2),
        help="bot processes (default: one per core; more only compete for the CPU)",
    )
    parser.add_argument("--bot-process", nargs="+", metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bot_process:
        prefix, *channels = args.bot_process
        asyncio.run(bot_process(prefix, channels, sys.stdout))
        return
    seconds = args.seconds or (8.0 if args.quick else 30.0)
    figures = run(args.quick, args.rate, seconds, args.processes)
    for name, value in figures.items():
        say(f"  {name}: {value}")
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    main()
