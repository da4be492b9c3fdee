"""A simulator subprocess, a client of its own per test, and an OAuth client for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kiss.auth.oauth import OAuthClient
from kiss.simulator.testing import SimulatorControl, SimulatorHandle, run_simulator_process


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorHandle]:
    with run_simulator_process(time_unit=0.02) as handle:
        yield handle


@pytest.fixture
def control(simulator: SimulatorHandle) -> Iterator[SimulatorControl]:
    control = SimulatorControl(simulator.base_url)
    yield control
    control.http.close()


@pytest.fixture
def client(control: SimulatorControl) -> dict[str, str]:
    return control.client()


@pytest.fixture
def oauth(simulator: SimulatorHandle, client: dict[str, str]) -> Iterator[OAuthClient]:
    oauth = OAuthClient(simulator.oauth_url, client["client_id"], client["client_secret"])
    yield oauth
    oauth.close()
