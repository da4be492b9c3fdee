"""A simulator subprocess, a client of its own per test, and an OAuth client for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kiss.auth.oauth import OAuthClient
from kiss.simulator.testing import SimulatorControl, SimulatorHandle


@pytest.fixture
def client(control: SimulatorControl) -> dict[str, str]:
    return control.client()


@pytest.fixture
def oauth(simulator: SimulatorHandle, client: dict[str, str]) -> Iterator[OAuthClient]:
    oauth = OAuthClient(simulator.oauth_url, client["client_id"], client["client_secret"])
    yield oauth
    oauth.close()
