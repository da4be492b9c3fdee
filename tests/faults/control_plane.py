"""The control plane under faults, for real: the simulator, a private Redis, an SQLite store,
``celery worker`` processes (and a listener where the transport needs one).

Shared by tests/faults/test_worker_killed.py, test_helix_faults.py, test_websocket_quota.py
and their bench scenarios (bench/fault_scenarios/). What they measure is read from the
simulator (every subscription, any owner; Helix calls handled; injected errors served) and
from the hub's own record of its runs (``Keys.reconcile_runs()``: fence, holder, start, end).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import redis

from kiss.keys import Keys
from kiss.reconcile.services import Services
from kiss.settings import EventSubSection, Settings, TwitchSection
from kiss.simulator.testing import SimulatorControl, SimulatorHandle
from kiss.store import subscriptions as store
from kiss.store import tokens as token_store
from kiss.store.db import upgrade
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
TYPE = "stream.online"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def bucket_bound(calls: int, *, rate_per_s: float, points: int, window: float) -> float:
    """The fewest seconds ``calls`` Helix calls can take: paced at ``rate_per_s``, and past the
    bucket's ``points`` refilled at ``points / window`` per second."""
    paced = calls / rate_per_s
    refill = max(0, calls - points) * window / points
    return max(paced, refill)


@dataclass
class Run:
    fence: int
    number: int  # of the runs under that fence (one holding of the lock)
    holder: str
    started: float
    finished: float | None
    outcome: str


def max_overlap(runs: Iterable[Run], open_until: float = float("inf")) -> int:
    """The most runs that were under way at one moment; a run with no end (its worker was
    killed) counts as under way until ``open_until``."""
    edges: list[tuple[float, int]] = []
    for run in runs:
        edges.append((run.started, 1))
        edges.append((run.finished if run.finished is not None else open_until, -1))
    peak = current = 0
    for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):
        current += step
        peak = max(peak, current)
    return peak


@dataclass
class Plane:
    sim: SimulatorHandle
    redis_url: str
    workdir: Path
    transport: str = "conduit"
    lock_seconds: float = 30.0
    req_rate_per_s: float = 10.0
    reconcile_interval: float = 60.0
    extra_env: dict[str, str] = field(default_factory=dict)
    keys: Keys = field(default_factory=lambda: Keys(f"plane-{uuid.uuid4().hex[:8]}"))
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.control = SimulatorControl(self.sim.base_url)
        client = self.control.client()
        self.client_id = client["client_id"]
        database = f"sqlite:///{self.workdir / 'kissbot.db'}"
        upgrade(database)
        self.settings = Settings(
            redis_url=self.redis_url,
            database_url=database,
            key_prefix=self.keys.prefix,
            celery_queue=f"q-{self.keys.prefix}",
            secret_key_file=self.workdir / "secret.key",
            metrics_port=0,
            eventsub=EventSubSection(
                transport=self.transport,  # type: ignore[arg-type]
                req_jitter_ms=0,
                req_rate_per_s=self.req_rate_per_s,
                reconcile_interval=self.reconcile_interval,
                reconcile_lock_seconds=self.lock_seconds,
            ),
            twitch=TwitchSection(
                eventsub_ws_url=self.sim.ws_url,
                helix_url=self.sim.helix_url,
                oauth_url=self.sim.oauth_url,
                client_id=client["client_id"],
                client_secret=client["client_secret"],
            ),
        )
        self.services = Services.build(self.settings)
        self.redis = redis.Redis.from_url(self.redis_url)

    # -- processes --------------------------------------------------------------------
    def environment(self) -> dict[str, str]:
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("KISSBOT_")}
        env |= {
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "KISSBOT_REDIS_URL": s.redis_url,
            "KISSBOT_DATABASE_URL": s.database_url,
            "KISSBOT_KEY_PREFIX": s.key_prefix,
            "KISSBOT_CELERY_QUEUE": s.celery_queue,
            "KISSBOT_SECRET_KEY_FILE": str(s.secret_key_file),
            "KISSBOT_METRICS_PORT": "0",
            "KISSBOT_LOG_LEVEL": "INFO",
            "KISSBOT_TWITCH__EVENTSUB_WS_URL": s.twitch.eventsub_ws_url,
            "KISSBOT_TWITCH__HELIX_URL": s.twitch.helix_url,
            "KISSBOT_TWITCH__OAUTH_URL": s.twitch.oauth_url,
            "KISSBOT_TWITCH__CLIENT_ID": s.twitch.client_id,
            "KISSBOT_TWITCH__CLIENT_SECRET": s.twitch.client_secret,
            "KISSBOT_EVENTSUB__TRANSPORT": s.eventsub.transport,
            "KISSBOT_EVENTSUB__RECONCILE_INTERVAL": str(s.eventsub.reconcile_interval),
            "KISSBOT_EVENTSUB__RECONCILE_LOCK_SECONDS": str(s.eventsub.reconcile_lock_seconds),
            "KISSBOT_EVENTSUB__REQ_RATE_PER_S": str(s.eventsub.req_rate_per_s),
            "KISSBOT_EVENTSUB__REQ_JITTER_MS": "0",
        }
        return env | self.extra_env

    def _start(self, name: str, command: list[str]) -> subprocess.Popen[bytes]:
        with (self.workdir / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        return process

    def start_worker(self, name: str, concurrency: int = 2) -> subprocess.Popen[bytes]:
        command = [
            sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker",
            "-Q", self.settings.celery_queue, "-n", f"{name}@%h", "-c", str(concurrency),
            "--without-gossip", "--without-mingle", "--loglevel", "INFO",
        ]  # fmt: skip
        return self._start(name, command)

    def start_beat(self) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "celery", "-A", "workers.celery_app", "beat",
                   "--schedule", str(self.workdir / "beat-schedule"), "-l", "INFO"]  # fmt: skip
        return self._start("beat", command)

    def start_listener(self, users: Iterable[str] = ()) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "kiss", "listener", "--listener-id", "faults",
                   "--metrics-port", "0"]  # fmt: skip
        for user in users:
            command += ["--user", user]
        return self._start("listener", command)

    @staticmethod
    def kill(process: subprocess.Popen[bytes]) -> float:
        """kill -9 of the process and its children (a Celery worker's pool); when it was."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return time.monotonic()

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)  # a warm stop: running tasks finish
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.services.close()
        self.redis.close()
        self.control.http.close()

    # -- the desired state ------------------------------------------------------------
    def make_conduit(self) -> str:
        """What the listener does on the conduit transport: create one, publish it."""
        from kiss.auth.provider import Principal

        body = self.services.helix.request(
            "POST", "eventsub/conduits", principal=Principal.app(), json={"shard_count": 1}
        ).body
        conduit_id = str(body["data"][0]["id"])
        self.redis.hset(self.keys.conduit(), mapping={"id": conduit_id, "shard_count": "1"})
        return conduit_id

    def store_user_token(self, user_id: str, scopes: list[str]) -> None:
        minted = self.control.token(client_id=self.client_id, user_id=user_id, scopes=scopes)
        with self.services.sessions.begin() as session:
            token_store.save_token(
                session,
                self.services.cipher,
                kind="user",
                user_id=user_id,
                scopes=scopes,
                access_token=minted["access_token"],
                refresh_token=minted["refresh_token"],
            )

    def desire(self, channels: Iterable[str], type_: str = TYPE, version: str = "1") -> None:
        with self.services.sessions.begin() as session:
            for channel in channels:
                store.add_desired(
                    session,
                    channel_id=channel,
                    type=type_,
                    version=version,
                    condition={"broadcaster_user_id": channel},
                    transport=self.transport,
                    requested_by="faults",
                )

    def audit_messages(self) -> list[str]:
        from kiss.store import hub_state

        with self.services.sessions() as session:
            return [entry.message or "" for entry in hub_state.recent_audit(session, limit=1000)]

    def send(self, task: str, **kwargs: Any) -> None:
        self.services_app().send_task(task, kwargs=kwargs, queue=self.settings.celery_queue)

    def services_app(self) -> Any:
        if not hasattr(self, "_app"):
            from workers.celery_app import create_app

            self._app = create_app(self.settings)
        return self._app

    # -- what Twitch has ----------------------------------------------------------------
    def twitch_subscriptions(self) -> list[dict[str, Any]]:
        """Every subscription of the simulator (each plane has a simulator of its own)."""
        return self.control.subscriptions()

    def tally(self, wanted: Iterable[str], type_: str = TYPE) -> dict[str, int]:
        """Of the enabled subscriptions at Twitch: placed (wanted channels with one), duplicated
        (more than one for a channel), orphans (not wanted); and disabled ones listed."""
        wanted_set = set(wanted)
        enabled: Counter[str] = Counter()
        disabled = 0
        for sub in self.twitch_subscriptions():
            if sub["type"] != type_:
                continue
            if sub["status"] != "enabled":
                disabled += 1
                continue
            enabled[str(sub["condition"].get("broadcaster_user_id"))] += 1
        return {
            "placed": sum(1 for channel in wanted_set if enabled[channel]),
            "duplicates": sum(n - 1 for channel, n in enabled.items() if n > 1),
            "orphans": sum(n for channel, n in enabled.items() if channel not in wanted_set),
            "disabled": disabled,
        }

    def runs(self) -> list[Run]:
        """The hub's record of its reconcile runs, by fencing token and number under it."""
        found: dict[tuple[int, int], Run] = {}
        entries: Any = self.redis.xrange(self.keys.reconcile_runs())
        for _, fields in entries:
            row = {_text(k): _text(v) for k, v in fields.items()}
            key = (int(row["fence"]), int(row["run"]))
            run = found.setdefault(key, Run(*key, row["holder"], float(row["started"]), None, ""))
            if row["event"] == "finish":
                run.finished = float(row["finished"])
                run.outcome = row["outcome"]
        return [found[key] for key in sorted(found)]

    def stats(self) -> dict[str, Any]:
        return self.control.stats()

    def summary(self, figures: dict[str, Any]) -> str:
        return orjson.dumps(figures).decode()


def wait(condition: Callable[[], Any], within: float, what: str) -> Any:
    """``tests.waiting.wait_for``, untyped for the drivers' walrus probes."""
    return wait_for(condition, within, what)
