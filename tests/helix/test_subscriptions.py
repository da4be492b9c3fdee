"""Subscription endpoints against the simulator (a client of its own per test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from kiss.auth.provider import Principal, StaticTokenProvider
from kiss.errors import MalformedMessage, PermanentHelixError, TransientHelixError
from kiss.helix import subscriptions
from kiss.helix.client import HelixClient
from kiss.helix.config import HelixConfig
from kiss.keys import Keys
from kiss.settings import EventSubSection, Settings, TwitchSection
from kiss.simulator.testing import SimulatorControl, SimulatorHandle


@pytest.fixture
def helix(
    simulator: SimulatorHandle, redis_client: redis.Redis, keys: Keys, tmp_path: Path
) -> Iterator[tuple[HelixClient, str]]:
    control = SimulatorControl(simulator.base_url)
    client = control.client()
    app = control.token(client_id=client["client_id"])["access_token"]
    settings = Settings(
        eventsub=EventSubSection(req_rate_per_s=500, req_jitter_ms=0),
        twitch=TwitchSection(
            helix_url=simulator.helix_url,
            client_id=client["client_id"],
            client_secret=client["client_secret"],
        ),
    )
    helix = HelixClient(
        HelixConfig.from_settings(settings), redis_client, StaticTokenProvider(app=app), keys=keys
    )
    conduit = helix.request(
        "POST", "eventsub/conduits", principal=Principal.app(), json={"shard_count": 1}
    ).body["data"][0]["id"]
    yield helix, str(conduit)
    helix.close()
    control.http.close()


def create(helix: HelixClient, conduit: str, channel: str) -> subscriptions.Created:
    return subscriptions.create(
        helix,
        type="stream.online",
        version="1",
        condition={"broadcaster_user_id": channel},
        transport={"method": "conduit", "conduit_id": conduit},
        principal=Principal.app(),
    )


def test_create_then_conflict_adopts_the_same_subscription(
    helix: tuple[HelixClient, str],
) -> None:
    client, conduit = helix
    made = create(client, conduit, "1")
    assert not made.adopted
    assert made.subscription.status == "enabled"
    assert made.subscription.conduit_id == conduit
    assert made.subscription.channel_id == "1"
    again = create(client, conduit, "1")
    assert again.adopted
    assert again.subscription.id == made.subscription.id


def test_the_conflicts_of_one_run_share_one_listing_per_type(
    helix: tuple[HelixClient, str], simulator: SimulatorHandle
) -> None:
    client, conduit = helix
    made = {channel: create(client, conduit, channel).subscription.id for channel in "123"}
    conflicts = subscriptions.Conflicts(client)
    before = SimulatorControl(simulator.base_url).stats()["helix_requests"]
    for channel in "123":
        again = subscriptions.attempt_create(
            client,
            type="stream.online",
            version="1",
            condition={"broadcaster_user_id": channel},
            transport={"method": "conduit", "conduit_id": conduit},
            principal=Principal.app(),
        )
        assert isinstance(again, subscriptions.Conflict)
        adopted = conflicts.resolve(again)
        assert adopted.adopted and adopted.subscription.id == made[channel]
    assert conflicts.listings == 1
    calls = SimulatorControl(simulator.base_url).stats()["helix_requests"] - before
    assert calls == 3 + 1  # three 409s, one Get of their type


def test_a_conflict_twitch_does_not_list_is_retried_not_given_up(
    helix: tuple[HelixClient, str], simulator: SimulatorHandle
) -> None:
    client, conduit = helix
    SimulatorControl(simulator.base_url).fault("/helix/eventsub/subscriptions", status=409, count=1)
    with pytest.raises(TransientHelixError, match="Get does not show it"):
        create(client, conduit, "1")
    assert not create(client, conduit, "1").adopted  # the next attempt goes through


def test_list_all_follows_every_page(helix: tuple[HelixClient, str]) -> None:
    client, conduit = helix
    for channel in range(105):
        create(client, conduit, str(channel))
    listing = subscriptions.list_all(client, principal=Principal.app())
    assert len({s.id for s in listing.subscriptions}) == 105
    assert listing.max_total_cost is not None


def test_delete_reports_a_missing_subscription(helix: tuple[HelixClient, str]) -> None:
    client, conduit = helix
    made = create(client, conduit, "1")
    assert subscriptions.delete(client, made.subscription.id, principal=Principal.app())
    assert not subscriptions.delete(client, made.subscription.id, principal=Principal.app())


def test_bad_create_is_permanent_with_twitchs_message(helix: tuple[HelixClient, str]) -> None:
    client, _ = helix
    with pytest.raises(PermanentHelixError, match="conduit not found"):
        create(client, "no-such-conduit", "1")


def test_malformed_subscription_is_named() -> None:
    with pytest.raises(MalformedMessage):
        subscriptions.to_twitch_subscription({"id": "x"})
    with pytest.raises(MalformedMessage):
        subscriptions.to_twitch_subscription("nope")
