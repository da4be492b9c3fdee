"""A running simulator plus what a listener needs around it (settings, Helix, a Celery queue).

Shared by the listener tests that run over real sockets against the simulator and a real
Redis. Control calls are blocking HTTP, so from async tests they go through a thread while
the in-process simulator keeps serving on the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import redis

from kiss.auth.provider import Principal, StaticTokenProvider
from kiss.helix.client import HelixClient
from kiss.helix.config import HelixConfig
from kiss.keys import Keys
from kiss.settings import Settings, load_settings
from kiss.simulator.testing import SimulatorControl
from tests.waiting import wait_for_async

SLOW_UNIT = 0.2


def listener_settings(redis_url: str, keys: Keys, base_url: str, **eventsub: Any) -> Settings:
    ws_url = base_url.replace("http://", "ws://", 1) + "/ws"
    return load_settings(
        redis_url=redis_url,
        key_prefix=keys.prefix,
        celery_queue=f"q-{keys.prefix}",
        twitch={
            "eventsub_ws_url": ws_url,
            "helix_url": f"{base_url}/helix",
            "oauth_url": f"{base_url}/oauth2",
        },
        eventsub={
            "ws_backoff_base": 0.05,
            "ws_backoff_max": 0.5,
            "shard_lease_seconds": 1.0,
            "req_jitter_ms": 0,  # the binding must fit the scaled 10 s window
            **eventsub,
        },
    )


@dataclass
class Hub:
    """The test's view: control API, Helix with the app token, Redis, keys."""

    control: SimulatorControl
    helix: HelixClient
    settings: Settings
    keys: Keys
    redis: redis.Redis

    async def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(function, *args, **kwargs)

    async def subscribe_conduit(
        self, conduit_id: str, channel: str, type_: str = "channel.update", version: str = "2"
    ) -> str:
        """A scope-less subscription (app budget) on the conduit."""
        body = {
            "type": type_,
            "version": version,
            "condition": {"broadcaster_user_id": channel},
            "transport": {"method": "conduit", "conduit_id": conduit_id},
        }
        response = await self.call(
            self.helix.request,
            "POST",
            "eventsub/subscriptions",
            principal=Principal.app(),
            json=body,
        )
        return str(response.body["data"][0]["id"])

    def entries(self, channel: str) -> list[dict[str, str]]:
        raw = self.redis.xrange(self.keys.channel_stream(channel)) or []
        return [{text(k): text(v) for k, v in (fields or {}).items()} for _, fields in raw]

    def tasks(self) -> list[tuple[str, dict[str, Any]]]:
        """(task name, kwargs) of every Celery message waiting in this test's queue."""
        found = []
        for raw in self.redis.lrange(self.settings.celery_queue, 0, -1):
            message = orjson.loads(raw)
            body = orjson.loads(base64.b64decode(message["body"]))
            found.append((message["headers"]["task"], body[1]))
        return list(reversed(found))  # LPUSHed: oldest last


def make_hub(redis_url: str, keys: Keys, base_url: str, **eventsub: Any) -> Hub:
    control = SimulatorControl(base_url)
    settings = listener_settings(redis_url, keys, base_url, **eventsub)
    app_token = control.token()["access_token"]
    sync_redis = redis.Redis.from_url(redis_url)
    helix = HelixClient(
        HelixConfig.from_settings(settings),
        sync_redis,
        StaticTokenProvider(app=app_token),
        keys=keys,
    )
    return Hub(control, helix, settings, keys, sync_redis)


eventually = wait_for_async  # the listener suites' name for it


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().int % 10**8}"


def text(value: bytes | str | None) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
