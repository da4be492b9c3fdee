"""Fan-out benchmark: 1,000 bots (in a few processes) consume their channels through the hub.

The simulator emits events across 1,000 channels at a steady total rate (5,000/s by
default) to one listener process, which writes them to the channels' Redis streams; bot
processes, each running its share of the 1,000 ``HubEventSubClient`` objects on one shared
``HubConnection``, consume and acknowledge them. Printed, from the same run:

- events handled per second by the bots (over the load's duration);
- lost events (sent by the simulator, never handled) and duplicates (handled twice);
- latency p50 / p99 from the simulator's send (``message_timestamp``) to the handler;
- memory per bot (growth of a bot process's RSS per bot attached) and the processes' RSS;
- the CPU the bot processes spent per event, against a bare redis-py consumer's;
- the bare consumer's own Redis -> handler p99: the floor this machine sets for that leg of
  the bots' latency (on a 2-core machine running the simulator, the listener and Redis too,
  it is above 10 ms by itself).

The baseline runs in the same run, right after the bots, on a second load over the same
streams: as many processes, each with as many reading connections as a bot process has
readers (one per ``streams_per_reader`` channels), each an XREADGROUP with COUNT over its
streams, a handler that does nothing, and XACKs batched every 20 ms on one more connection.
The bots are stopped by then, so the two phases do not share the CPU.

    python bench/fanout.py [--quick] [--rate 5000] [--seconds 30] [--processes N]

The last line is one JSON object with the figures. ``--quick`` finishes within 60 s.
Targets: nothing lost, p99 at most 10 ms, bot CPU per event at most 2.5 x the bare consumer's.
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
TARGETS = {"lost": 0, "p99_ms": 10.0, "cpu_ratio": 2.5}
BARE_GROUP = "bench-bare"


def rss_bytes() -> int:
    return int(psutil.Process().memory_info().rss)


async def bot_process(prefix: str, channels: list[str], out: IO[str]) -> None:
    from kiss.client import ClientOptions, HubConnection, HubEventSubClient, NotificationEvent

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

    def handle(event: NotificationEvent) -> None:
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


async def bare_process(prefix: str, channels: list[str], out: IO[str]) -> None:
    """The baseline: what reading and acknowledging the same entries costs with redis-py alone."""
    import redis.asyncio as aioredis

    from kiss.client import ClientOptions

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    keys = Keys(prefix)
    options = ClientOptions(instance=f"bare-{os.getpid()}", count=128)
    acks: dict[str, list[str]] = {}
    handled = 0
    # Redis -> handler, from the entry's id (its XADD time): the floor of the bots' third leg.
    lags: list[float] = []

    async def reader(streams: list[str]) -> None:
        nonlocal handled
        client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
        wanted: dict[Any, Any] = dict.fromkeys(streams, ">")
        try:
            while not stop.is_set():
                reply: Any = await client.xreadgroup(
                    BARE_GROUP, options.instance, wanted, count=options.count, block=200
                )
                now_ms = time.time() * 1000
                for stream, entries in reply or ():
                    handled += len(entries)
                    acks.setdefault(stream, []).extend(stream_id for stream_id, _ in entries)
                    lags.extend(now_ms - int(i.partition("-")[0]) for i, _ in entries)
        finally:
            await client.aclose()

    async def acknowledger() -> None:
        """XACK in batches: every 20 ms, one pipeline of one XACK per stream read meanwhile."""
        client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
        try:
            while not stop.is_set() or acks:
                if not acks:
                    await asyncio.sleep(0.02)
                    continue
                batch = dict(acks)
                acks.clear()
                pipe = client.pipeline(transaction=False)
                for stream, ids in batch.items():
                    pipe.xack(stream, BARE_GROUP, *ids)
                await pipe.execute()
                await asyncio.sleep(0.02)
        finally:
            await client.aclose()

    streams = [keys.channel_stream(channel) for channel in channels]
    per_reader = options.streams_per_reader
    groups = [streams[i : i + per_reader] for i in range(0, len(streams), per_reader)]
    print("ready", file=out, flush=True)
    await asyncio.gather(acknowledger(), *(reader(group) for group in groups))
    lags.sort()
    p99 = round(percentile(lags, 0.99), 2) if lags else None
    print(orjson.dumps({"handled": handled, "redis_to_handler_p99_ms": p99}).decode(), file=out,
          flush=True)  # fmt: skip


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
    stack: ExitStack, harness: Harness, channels: list[str], processes: int, mode: str = "--bot"
) -> list[subprocess.Popen[str]]:
    bots = []
    for index in range(processes):
        share = channels[index::processes]
        command = [sys.executable, __file__, f"{mode}-process", harness.keys.prefix, *share]
        log = stack.enter_context((harness.tmp / f"{mode[2:]}-{index}.log").open("w"))
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


def load_and_drain(
    harness: Harness, channels: list[str], group: str, rate: float, seconds: float
) -> tuple[int, float]:
    """One load through the hub, until ``group`` has read and acknowledged all of it."""
    routed_before = harness.routed()
    load = harness.control.load(rate=rate, channels=channels, duration=seconds, type_=TYPE)
    status = wait_for(
        lambda: (s := harness.control.load_status(load)) and not s["running"] and s,
        seconds + 60,
        "the load to finish",
    )
    sent = int(status["delivered"])
    wait_for(lambda: harness.routed() - routed_before >= sent, 60, "the load to reach Redis")
    drained_at = wait_for(
        lambda: harness.drained(channels, group) and time.time(),
        60,
        f"{group} to drain the streams",
    )
    return sent, max(1e-3, drained_at - status["started_at"])


def stop_reporting(children: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    """SIGTERM each child and read the one JSON line it prints on its way out."""
    reports = []
    for child in children:
        child.send_signal(signal.SIGTERM)
    for child in children:
        assert child.stdout is not None
        reports.append(orjson.loads(child.stdout.readline()))
        child.wait(timeout=30)
    return reports


def bare_baseline(
    harness: Harness, channels: list[str], processes: int, rate: float, seconds: float
) -> tuple[float, list[float | None]]:
    """CPU per event of the bare consumer on a load of its own (microseconds), and each
    process's Redis -> handler p99 (ms)."""
    with ExitStack() as stack:
        pipe = harness.redis.pipeline(transaction=False)
        for channel in channels:
            pipe.xgroup_create(harness.keys.channel_stream(channel), BARE_GROUP, "$", mkstream=True)
        pipe.execute()
        consumers = start_bots(stack, harness, channels, processes, mode="--bare")
        cpu_before = sum(cpu_seconds(consumer.pid) for consumer in consumers)
        say(f"baseline: bare redis-py consumers, {rate:,.0f} events/s for {seconds:g} s")
        load_and_drain(harness, channels, BARE_GROUP, rate, seconds)
        cpu = sum(cpu_seconds(consumer.pid) for consumer in consumers) - cpu_before
        reports = stop_reporting(consumers)
        handled = sum(int(r["handled"]) for r in reports)
    return cpu / max(1, handled) * 1e6, [r["redis_to_handler_p99_ms"] for r in reports]


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
        group = harness.keys.bot_group("bench")
        sent, load_seconds = load_and_drain(harness, channels, group, rate, seconds)
        routed = harness.routed()
        bot_cpu = sum(cpu_seconds(bot.pid) for bot in bots) - cpu_before
        reports = stop_reporting(bots)
        bare_us, bare_p99 = bare_baseline(harness, channels, processes, rate, seconds)
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
        "bare_cpu_us_per_event": round(bare_us, 1),
        # The same leg for the bare consumer: what this machine allows a reader at all.
        "bare_redis_to_handler_p99_ms": bare_p99,
        "memory_per_bot_kb": round(statistics.mean(r["bytes_per_bot"] for r in reports) / 1024, 1),
        "bot_process_rss_mb": [round(r["rss_mb"], 1) for r in reports],
        "quick": quick,
        "seconds": round(time.monotonic() - started, 1),
    }
    figures["cpu_ratio"] = round(figures["bot_cpu_us_per_event"] / max(0.1, bare_us), 2)
    figures["targets_met"] = {
        "lost": figures["lost"] <= TARGETS["lost"],
        "p99_ms": figures["latency_p99_ms"] <= TARGETS["p99_ms"],
        "cpu_ratio": figures["cpu_ratio"] <= TARGETS["cpu_ratio"],
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
    parser.add_argument("--bare-process", nargs="+", metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bot_process or args.bare_process:
        prefix, *channels = args.bot_process or args.bare_process
        child = bot_process if args.bot_process else bare_process
        asyncio.run(child(prefix, channels, sys.stdout))
        return
    seconds = args.seconds or (8.0 if args.quick else 30.0)
    figures = run(args.quick, args.rate, seconds, args.processes)
    for name, value in figures.items():
        say(f"  {name}: {value}")
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    main()
