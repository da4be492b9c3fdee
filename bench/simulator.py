"""How many notifications per second the simulator pushes to one connected client.

The simulator runs in its own process (``python -m kiss.simulator``); this process is a bare
websocket client (aiohttp's by default: its frame reader is compiled, so the client is not the
limit; ``--client websockets`` for the pure-Python one) that subscribes to N channels' chat
messages (frames of about 1.5 KB), starts the load generator at full speed, and counts frames.
Prints figures, then one JSON line.

    .venv/bin/python bench/simulator.py [--quick] [--total N] [--channels N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kiss.eventsub.timestamps import parse_timestamp
from kiss.simulator.testing import SimulatorControl, run_simulator_process

BOT_USER = "9000"
TARGET = 50_000


@asynccontextmanager
async def websocket(kind: str, ws_url: str) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """A connected client of the given library; yields its receive-one-text-frame call."""
    if kind == "websockets":
        async with websockets.connect(ws_url, max_size=None, compression=None) as pure:

            async def receive_ws() -> str:
                return str(await asyncio.wait_for(pure.recv(), 30))

            yield receive_ws
        return
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url, max_msg_size=0) as fast:

        async def receive_aiohttp() -> str:
            return str(await fast.receive_str(timeout=30))

        yield receive_aiohttp


async def subscribe(helix_url: str, token: str, session_id: str, channels: int) -> None:
    headers = {"Authorization": f"Bearer {token}", "Client-Id": "kiss-demo-client"}
    async with aiohttp.ClientSession() as http:
        for channel in range(channels):
            body = {
                "type": "channel.chat.message",
                "version": "1",
                "condition": {"broadcaster_user_id": str(10_000 + channel), "user_id": BOT_USER},
                "transport": {"method": "websocket", "session_id": session_id},
            }
            url = f"{helix_url}/eventsub/subscriptions"
            async with http.post(url, json=body, headers=headers) as answer:
                answer.raise_for_status()


async def run_round(
    kind: str, ws_url: str, helix_url: str, control: SimulatorControl, channels: int, total: int
) -> dict[str, Any]:
    async with websocket(kind, ws_url) as receive:
        session_id = orjson.loads(await receive())["payload"]["session"]["id"]
        token = control.token(user_id=BOT_USER, scopes=["user:read:chat"])["access_token"]
        await subscribe(helix_url, token, session_id, channels)
        control.load(rate=0, channels=channels, total=total)
        received = 0
        sizes = 0
        latencies: list[float] = []
        first = last = 0.0
        while received < total:
            frame = await receive()
            if '"notification"' not in frame[:120]:
                continue
            last = time.perf_counter()
            if received == 0:
                first = last
            received += 1
            sizes += len(frame)
            if received % 1000 == 0:
                sent_at = parse_timestamp(orjson.loads(frame)["metadata"]["message_timestamp"])
                latencies.append((time.time() - sent_at) * 1000)
        seconds = max(last - first, 1e-9)
        return {
            "received": received,
            "seconds": round(seconds, 3),
            "per_second": round((received - 1) / seconds),
            "mean_frame_bytes": round(sizes / received),
            "latency_ms_median": round(statistics.median(latencies), 2) if latencies else None,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short round (well under 60 s)")
    parser.add_argument("--total", type=int, default=None, help="frames per round")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument(
        "--client",
        choices=("aiohttp", "websockets"),
        default="aiohttp",
        help="client library (the pure-Python websockets client is itself the limit near 50k/s)",
    )
    args = parser.parse_args()
    total = args.total or (200_000 if args.quick else 1_000_000)
    rounds = args.rounds or (2 if args.quick else 3)
    results = []
    with run_simulator_process(time_unit=1.0, subscribe_window=600) as sim:
        control = SimulatorControl(sim.base_url)
        for number in range(rounds):
            result = asyncio.run(
                run_round(args.client, sim.ws_url, sim.helix_url, control, args.channels, total)
            )
            results.append(result)
            frames = f"{result['received']} frames of ~{result['mean_frame_bytes']} B"
            speed = f"{result['seconds']} s = {result['per_second']:,}/s"
            print(
                f"round {number + 1}: {frames} in {speed} (median {result['latency_ms_median']} ms)"
            )
    best = max(r["per_second"] for r in results)
    print(f"best: {best:,} notifications/s to one client (target {TARGET:,}/s)")
    print(
        json.dumps(
            {
                "bench": "simulator",
                "notifications_per_second": best,
                "rounds": results,
                "channels": args.channels,
                "client": args.client,
                "target": TARGET,
                "meets_target": best >= TARGET,
            }
        )
    )


if __name__ == "__main__":
    main()
