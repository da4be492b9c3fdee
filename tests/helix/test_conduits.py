"""The Helix conduit endpoints against the simulator (a process), through the real client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from kiss.auth.provider import StaticTokenProvider
from kiss.errors import PermanentHelixError
from kiss.helix import conduits as api
from kiss.helix.client import HelixClient
from kiss.helix.config import HelixConfig
from kiss.keys import Keys
from kiss.settings import load_settings
from kiss.simulator.testing import SimulatorControl, run_simulator_process
from tests.waiting import PROCESS_TIME_UNIT


@pytest.fixture
def helix(redis_url: str, keys: Keys) -> Iterator[HelixClient]:
    with run_simulator_process(time_unit=PROCESS_TIME_UNIT) as sim:
        token = SimulatorControl(sim.base_url).token()["access_token"]
        settings = load_settings(
            redis_url=redis_url,
            key_prefix=keys.prefix,
            twitch={"helix_url": sim.helix_url},
            eventsub={"req_jitter_ms": 0},
        )
        client = HelixClient(
            HelixConfig.from_settings(settings),
            redis.Redis.from_url(redis_url),
            StaticTokenProvider(app=token),
            keys=keys,
        )
        yield client
        client.close()


def test_create_get_grow_and_delete_a_conduit(helix: HelixClient) -> None:
    assert api.get_conduits(helix) == []
    conduit = api.create_conduit(helix, 2)
    assert conduit.shard_count == 2
    assert api.get_conduits(helix) == [conduit]
    grown = api.update_conduit(helix, conduit.id, 4)
    assert grown == api.Conduit(conduit.id, 4)
    shards = api.get_shards(helix, conduit.id)
    assert [shard.id for shard in shards] == ["0", "1", "2", "3"]
    assert all(shard.session_id is None for shard in shards)
    api.delete_conduit(helix, conduit.id)
    assert api.get_conduits(helix) == []


def test_binding_a_session_that_is_not_connected_fails_per_shard(helix: HelixClient) -> None:
    conduit = api.create_conduit(helix, 1)
    update = api.bind_shards(helix, conduit.id, [("0", "no-such-session")])
    assert update.bound == ()
    assert [error.id for error in update.errors] == ["0"]
    assert "not connected" in update.errors[0].message.lower()


def test_a_bad_shard_count_names_the_problem(helix: HelixClient) -> None:
    with pytest.raises(PermanentHelixError, match="400"):
        api.create_conduit(helix, 0)
