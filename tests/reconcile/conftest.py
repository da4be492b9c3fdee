"""A simulator subprocess and a control plane wired to it, on SQLite or PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiss.auth.provider import Principal
from kiss.keys import Keys
from kiss.reconcile.services import Services
from kiss.settings import EventSubSection, Settings, TwitchSection
from kiss.simulator.testing import SimulatorControl, SimulatorHandle


def hub_settings(
    simulator: SimulatorHandle,
    database_url: str,
    keys: Keys,
    key_file: Path,
    client: dict[str, str],
    **eventsub: object,
) -> Settings:
    """Settings of a hub on the simulator, as a client of its own (tests do not share subs)."""
    return Settings(
        redis_url="redis://127.0.0.1:6379/0",
        database_url=database_url,
        key_prefix=keys.prefix,
        celery_queue=f"test-{uuid.uuid4().hex[:8]}",
        secret_key_file=key_file,
        eventsub=EventSubSection(req_jitter_ms=0, req_rate_per_s=200, **eventsub),  # type: ignore[arg-type]
        twitch=TwitchSection(
            helix_url=simulator.helix_url,
            oauth_url=simulator.oauth_url,
            client_id=client["client_id"],
            client_secret=client["client_secret"],
        ),
    )


@pytest.fixture
def client(control: SimulatorControl) -> dict[str, str]:
    return control.client()


@pytest.fixture
def hub(
    simulator: SimulatorHandle,
    database_url: str,
    keys: Keys,
    tmp_path: Path,
    client: dict[str, str],
) -> Iterator[Services]:
    settings = hub_settings(simulator, database_url, keys, tmp_path / "key", client)
    services = Services.build(settings)
    yield services
    services.close()


def make_conduit(hub: Services) -> str:
    """What the listener does: create a conduit and publish it in Redis."""
    body = hub.helix.request(
        "POST", "eventsub/conduits", principal=Principal.app(), json={"shard_count": 1}
    ).body
    conduit_id = str(body["data"][0]["id"])
    hub.redis.hset(hub.keys.conduit(), mapping={"id": conduit_id, "shard_count": "1"})
    return conduit_id
