"""Reconciliation throughput against the simulator at Twitch's default bucket (800 points/min).

1. Creates N desired subscriptions (conduit transport, app token) from empty and times it
   against the theoretical minimum of the bucket: its initial 800 points are free, the rest
   come at 800/60 points per second. Target: ratio <= 1.05, zero 429s from the rate limit.
2. CPU seconds of one reconciliation of 10,000 subscriptions already in sync (target <= 1 s).

Prints figures, then one JSON line.

    .venv/bin/python bench/reconcile.py [--quick] [--count N] [--in-sync N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prometheus_client import REGISTRY
from sqlalchemy import insert

from kiss.auth.provider import Principal
from kiss.reconcile.services import Services
from kiss.settings import EventSubSection, Settings, TwitchSection
from kiss.simulator.testing import SimulatorControl, run_simulator_process
from kiss.store.db import upgrade
from kiss.store.models import ActiveSubscription, DesiredSubscription
from kiss.store.subscriptions import canonical

POINTS = 800
WINDOW = 60.0
REDIS_URL = "redis://127.0.0.1:6379/0"


def theoretical_minimum(
    count: int, initial: int = POINTS, per_second: float = POINTS / WINDOW
) -> float:
    return max(0.0, (count - initial) / per_second)


def build(tmp: Path, sim_base: str, client: dict[str, str], prefix: str, rate: float) -> Services:
    url = f"sqlite:///{tmp}/bench-{prefix}.db"
    upgrade(url)
    settings = Settings(
        redis_url=REDIS_URL,
        database_url=url,
        key_prefix=prefix,
        secret_key_file=tmp / "secret.key",
        eventsub=EventSubSection(req_rate_per_s=rate),
        twitch=TwitchSection(
            helix_url=f"{sim_base}/helix",
            oauth_url=f"{sim_base}/oauth2",
            client_id=client["client_id"],
            client_secret=client["client_secret"],
        ),
    )
    return Services.build(settings)


def rate_limited_seen() -> float:
    return REGISTRY.get_sample_value("kiss_helix_rate_limited_total") or 0.0


def bench_creates(services: Services, control: SimulatorControl, count: int) -> dict[str, Any]:
    conduit = services.helix.request(
        "POST", "eventsub/conduits", principal=Principal.app(), json={"shard_count": 1}
    ).body["data"][0]["id"]
    services.redis.hset(services.keys.conduit(), mapping={"id": conduit, "shard_count": "1"})
    with services.sessions.begin() as session:
        session.execute(
            insert(DesiredSubscription),
            [
                {
                    "channel_id": str(100_000 + i),
                    "type": "stream.online",
                    "version": "1",
                    "condition": canonical({"broadcaster_user_id": str(100_000 + i)}),
                    "transport": "conduit",
                    "requested_by": "bench",
                    "state": "pending",
                    "reason": "",
                    "attempts": 0,
                }
                for i in range(count)
            ],
        )
    before_429 = control.stats()["rate_limited"]
    before_seen = rate_limited_seen()
    started = time.perf_counter()
    reconciler = services.reconciler()
    created = 0
    while created < count:
        report = reconciler.reconcile()
        created += report.created + report.adopted
        if not report.create_attempted():
            break
    wall = time.perf_counter() - started
    minimum = theoretical_minimum(count)
    return {
        "count": count,
        "created": created,
        "wall_seconds": round(wall, 2),
        "theoretical_min_seconds": round(minimum, 2),
        "ratio": round(wall / minimum, 3) if minimum else None,
        "rate_limit_429s": int(control.stats()["rate_limited"] - before_429),
        "rate_limit_429s_seen_by_client": int(rate_limited_seen() - before_seen),
    }


def bench_in_sync(services: Services, count: int) -> dict[str, Any]:
    conduit = "bench-conduit"
    services.redis.hset(services.keys.conduit(), mapping={"id": conduit, "shard_count": "1"})
    rows_desired = []
    rows_active = []
    for i in range(count):
        condition = canonical({"broadcaster_user_id": str(500_000 + i)})
        rows_desired.append(
            {
                "channel_id": str(500_000 + i),
                "type": "stream.online",
                "version": "1",
                "condition": condition,
                "transport": "conduit",
                "requested_by": "bench",
                "state": "active",
                "reason": "",
                "attempts": 0,
                "subscription_id": f"sync-{i}",
            }
        )
        rows_active.append(
            {
                "twitch_id": f"sync-{i}",
                "channel_id": str(500_000 + i),
                "type": "stream.online",
                "version": "1",
                "condition": condition,
                "status": "enabled",
                "cost": 0,
                "method": "conduit",
                "conduit_id": conduit,
            }
        )
    with services.sessions.begin() as session:
        session.execute(insert(DesiredSubscription), rows_desired)
        session.execute(insert(ActiveSubscription), rows_active)
    reconciler = services.reconciler()
    reconciler.reconcile()  # warm-up: imports, caches, connections
    cpu = time.process_time()
    wall = time.perf_counter()
    report = reconciler.reconcile()
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    assert report.created == report.deleted == 0 and report.kept == count, report
    return {
        "in_sync_count": count,
        "in_sync_cpu_seconds": round(cpu, 3),
        "in_sync_wall_seconds": round(wall, 3),
    }


def cleanup(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    doomed = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if doomed:
        client.delete(*doomed)
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts: done within 60 s")
    parser.add_argument("--count", type=int, default=None, help="desired subscriptions to create")
    parser.add_argument("--in-sync", type=int, default=10_000, help="size of the in-sync run")
    parser.add_argument("--rate", type=float, default=1000.0, help="req_rate_per_s cap")
    args = parser.parse_args()
    count = args.count or (1_200 if args.quick else 2_000)
    figures: dict[str, Any] = {"bench": "reconcile", "quick": args.quick}
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_simulator_process(time_unit=1.0, rate_limit_points=POINTS) as sim,
    ):
        control = SimulatorControl(sim.base_url)
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        services = build(Path(tmp), sim.base_url, control.client(), prefix, args.rate)
        try:
            figures.update(bench_creates(services, control, count))
        finally:
            services.close()
            cleanup(prefix)
        prefix = f"bench-{uuid.uuid4().hex[:8]}"
        services = build(Path(tmp), sim.base_url, control.client(), prefix, args.rate)
        try:
            figures.update(bench_in_sync(services, args.in_sync))
        finally:
            services.close()
            cleanup(prefix)
    print(
        f"created {figures['created']}/{count} in {figures['wall_seconds']} s; theoretical "
        f"minimum {figures['theoretical_min_seconds']} s (800 points, then 800/min); "
        f"ratio {figures['ratio']} (target <= 1.05)"
    )
    print(f"429s from the rate limit: {figures['rate_limit_429s']} (target 0)")
    print(
        f"in-sync reconciliation of {figures['in_sync_count']}: "
        f"{figures['in_sync_cpu_seconds']} CPU s (target <= 1 s), "
        f"{figures['in_sync_wall_seconds']} s wall"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
