"""Junk frames mixed with good notifications at a real listener process, over the simulator.

Shared by tests/faults/test_hostile_frames.py (correctness, on a private Redis) and
bench/fault_scenarios/junk_frames.py (figures): the simulator writes every kind of
``kiss.simulator.faults.hostile_frames`` to the listener's shard socket, between triggers of
good ``channel.update`` notifications on real subscriptions; then the streams, the log and
the listener's memory are read back.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import redis
import requests

from kiss.eventsub.messages import is_channel_id
from kiss.eventsub.timestamps import format_timestamp
from kiss.keys import Keys
from kiss.simulator.config import DEMO_CLIENT_ID
from kiss.simulator.faults import hostile_frames
from kiss.simulator.testing import SimulatorControl, SimulatorHandle
from tests.waiting import wait_for

TYPE = "channel.update"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Figures:
    frames: int = 0  # junk frames written to the listener's socket
    good: int = 0  # good notifications sent
    log_bytes: int = 0
    tracebacks: int = 0
    rss_before_mb: float = 0.0
    rss_after_mb: float = 0.0
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def rss_growth_mb(self) -> float:
        return self.rss_after_mb - self.rss_before_mb


class HostileRig:
    """A conduit of one shard, ``channels`` subscriptions on it, and a listener process."""

    def __init__(self, sim: SimulatorHandle, redis_url: str, tmp: Path, channels: int) -> None:
        self.sim = sim
        self.redis_url = redis_url
        self.tmp = tmp
        self.control = SimulatorControl(sim.base_url, timeout=120)
        self.keys = Keys(f"hostile-{uuid.uuid4().hex[:8]}")
        self.redis = redis.Redis.from_url(redis_url)
        self.channels = [str(900_000 + n) for n in range(channels)]
        self.log_path = tmp / "listener.log"
        self.listener: subprocess.Popen[bytes] | None = None
        self.sub_ids: dict[str, str] = {}
        self.sent: dict[str, list[str]] = {channel: [] for channel in self.channels}
        token = str(self.control.token()["access_token"])
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token}", "Client-Id": DEMO_CLIENT_ID})

    # -- setup ----------------------------------------------------------------------------

    def start(self) -> None:
        """Conduit, subscriptions, then the listener; returns once its shard is bound."""
        answer = self.http.post(f"{self.sim.helix_url}/eventsub/conduits", json={"shard_count": 1})
        answer.raise_for_status()
        conduit_id = str(answer.json()["data"][0]["id"])
        self.redis.hset(self.keys.conduit(), mapping={"id": conduit_id, "shard_count": 1})
        for channel in self.channels:
            body = {
                "type": TYPE,
                "version": "2",
                "condition": {"broadcaster_user_id": channel},
                "transport": {"method": "conduit", "conduit_id": conduit_id},
            }
            answer = self.http.post(f"{self.sim.helix_url}/eventsub/subscriptions", json=body)
            answer.raise_for_status()
            self.sub_ids[channel] = str(answer.json()["data"][0]["id"])
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KISSBOT_")},
            "PYTHONPATH": str(ROOT),
            "KISSBOT_REDIS_URL": self.redis_url,
            "KISSBOT_KEY_PREFIX": self.keys.prefix,
            "KISSBOT_CELERY_QUEUE": f"q-{self.keys.prefix}",
            "KISSBOT_LOG_LEVEL": "INFO",
            "KISSBOT_TWITCH__EVENTSUB_WS_URL": self.sim.ws_url,
            "KISSBOT_TWITCH__HELIX_URL": self.sim.helix_url,
            "KISSBOT_TWITCH__OAUTH_URL": self.sim.oauth_url,
            "KISSBOT_EVENTSUB__CONDUIT_SHARDS": "1",
            "KISSBOT_EVENTSUB__REQ_JITTER_MS": "0",
        }
        command = [sys.executable, "-m", "kiss", "listener", "--listener-id", "hostile",
                   "--metrics-port", "0"]  # fmt: skip
        log = self.log_path.open("ab")
        self.listener = subprocess.Popen(
            command, env=env, cwd=self.tmp, stdout=log, stderr=subprocess.STDOUT
        )
        wait_for(self.session_id, 30, "the listener to bind its shard")

    def stop(self) -> int | None:
        if self.listener is None:
            return None
        self.listener.terminate()
        try:
            return self.listener.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.listener.kill()
            return self.listener.wait()

    def metrics_port(self) -> int:
        """The port the listener bound for metrics (``--metrics-port 0``), from its log."""

        def logged() -> int | None:
            match = re.search(rb"metrics on \S+ port (\d+)", self.log_path.read_bytes())
            return int(match.group(1)) if match else None

        port = wait_for(logged, 30, "the listener's metrics port")
        assert port is not None
        return port

    def session_id(self) -> str | None:
        for conduit in self.control.conduits():
            for shard in conduit["shards"]:
                if shard["status"] == "enabled":
                    return str(shard["transport"]["session_id"])
        return None

    # -- the run --------------------------------------------------------------------------

    def junk(self, repeat: int, batch: int = 0) -> dict[str, int]:
        """Every kind of junk, ``repeat`` times, on the shard's socket; frames sent by kind.
        Numbered texts (message ids, unknown types) are unique across batches too, so that a
        cache per unknown type would grow with every frame."""
        session = self.session_id()
        assert session is not None, "the shard is not bound"
        channel = self.channels[0]
        kinds = hostile_frames(channel, self.sub_ids[channel], format_timestamp())
        frames = [
            {"text": frame["text"].replace("@N@", f"{batch}x@N@")} if "text" in frame else frame
            for items in kinds.values()
            for frame in items
        ]
        self.control.raw_frames(session, frames, repeat)
        return {kind: len(items) * repeat for kind, items in kinds.items()}

    def good(self) -> int:
        """One good notification per channel; their message ids are remembered."""
        for channel in self.channels:
            answer = self.control.trigger(TYPE, channel)
            assert answer["sent"] == 1, answer
            self.sent[channel].extend(answer["message_ids"])
        return len(self.channels)

    def run(self, rounds: int, repeat: int) -> Figures:
        """``rounds`` of junk then good events; RSS measured after the first round's junk
        (the decoders' and allocator's one-time growth) and at the end."""
        assert self.listener is not None
        process = psutil.Process(self.listener.pid)
        figures = Figures()
        for number in range(rounds):
            for kind, count in self.junk(repeat, number).items():
                figures.by_kind[kind] = figures.by_kind.get(kind, 0) + count
            figures.good += self.good()
            if number == 0:
                wait_for(lambda: self.delivered() >= figures.good, 60, "the first good events")
                figures.rss_before_mb = process.memory_info().rss / 1e6
        figures.frames = sum(figures.by_kind.values())
        wait_for(lambda: self.delivered() >= figures.good, 120, "every good event in Redis")
        figures.rss_after_mb = process.memory_info().rss / 1e6
        text = self.log_path.read_bytes()
        figures.log_bytes = len(text)
        figures.tracebacks = text.count(b"Traceback")
        return figures

    # -- reading back ---------------------------------------------------------------------

    def written(self) -> dict[str, list[str]]:
        """Message ids of the notifications in each channel's stream, in stream order."""
        pipe = self.redis.pipeline(transaction=False)
        for channel in self.channels:
            pipe.xrange(self.keys.channel_stream(channel))
        found = {}
        for channel, rows in zip(self.channels, pipe.execute(), strict=True):
            found[channel] = [
                fields[b"message_id"].decode()
                for _, fields in rows
                if fields.get(b"kind") == b"notification"
            ]
        return found

    def delivered(self) -> int:
        return sum(len(ids) for ids in self.written().values())

    def stream_channels(self) -> list[str]:
        """The channel of every stream key under this run's prefix, and of every member of
        the hub's channel set (which names the streams to trim and show)."""
        prefix = self.keys.channel_stream("")
        keys = self.redis.scan_iter(match=self.keys.channel_stream_pattern(), count=1000)
        members = self.redis.smembers(self.keys.channels())
        named = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
        return [key.decode()[len(prefix) :] for key in keys] + named

    def invalid_stream_channels(self) -> list[str]:
        return [channel for channel in self.stream_channels() if not is_channel_id(channel)]
