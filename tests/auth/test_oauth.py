from __future__ import annotations

import threading

import pytest

from kiss.auth.oauth import DevicePending, OAuthClient
from kiss.errors import TokenError
from kiss.simulator.testing import SimulatorControl, SimulatorHandle


def test_client_credentials_give_a_valid_app_token(oauth: OAuthClient) -> None:
    grant = oauth.client_credentials()
    assert grant.refresh_token is None
    found = oauth.validate(grant.access_token)
    assert (found.client_id, found.user_id) == (oauth.client_id, "")
    assert grant.access_token not in repr(grant)


def test_wrong_secret_is_refused(simulator: SimulatorHandle, client: dict[str, str]) -> None:
    bad = OAuthClient(simulator.oauth_url, client["client_id"], "wrong")
    with pytest.raises(TokenError, match="client credentials refused"):
        bad.client_credentials()


def test_refresh_rotates_the_refresh_token(oauth: OAuthClient, control: SimulatorControl) -> None:
    minted = control.token(client_id=oauth.client_id, user_id="42", scopes=["bits:read"])
    grant = oauth.refresh(minted["refresh_token"])
    assert grant.access_token != minted["access_token"]
    assert grant.refresh_token and grant.refresh_token != minted["refresh_token"]
    assert oauth.validate(grant.access_token).scopes == ("bits:read",)
    with pytest.raises(TokenError, match="Invalid refresh token"):
        oauth.refresh(minted["refresh_token"])  # single use


def test_validate_refuses_an_expired_token(oauth: OAuthClient, control: SimulatorControl) -> None:
    minted = control.token(client_id=oauth.client_id, user_id="42")
    control.expire_token(minted["access_token"])
    with pytest.raises(TokenError, match="invalid"):
        oauth.validate(minted["access_token"])


def test_device_code_flow(oauth: OAuthClient, control: SimulatorControl) -> None:
    code = oauth.device_start(["channel:read:subscriptions"])
    with pytest.raises(DevicePending):
        oauth.device_poll(code, ["channel:read:subscriptions"])
    approver = threading.Timer(0.2, control.approve_device, (code.user_code, "77"))
    approver.start()
    try:
        grant = oauth.device_wait(code, ["channel:read:subscriptions"], interval=0.05)
    finally:
        approver.join()
    assert grant.refresh_token
    assert oauth.validate(grant.access_token).user_id == "77"


def test_device_code_expiry_is_reported(oauth: OAuthClient) -> None:
    code = oauth.device_start([])
    ticks = iter([0.0, 1.0, 10_000.0])
    with pytest.raises(TokenError, match="expired"):
        oauth.device_wait(code, [], sleep=lambda s: None, clock=lambda: next(ticks))


def test_revoke(oauth: OAuthClient, control: SimulatorControl) -> None:
    minted = control.token(client_id=oauth.client_id, user_id="42")
    oauth.revoke(minted["access_token"])
    with pytest.raises(TokenError):
        oauth.validate(minted["access_token"])
    with pytest.raises(TokenError, match="revoke refused"):
        oauth.revoke("unknown-token")


@pytest.mark.parametrize("call", ["device", "validate"])
def test_an_oauth_service_that_does_not_answer_is_named(call: str) -> None:
    from kiss.errors import OAuthUnavailable

    nowhere = OAuthClient("http://127.0.0.1:1/oauth2", "id", "secret")
    with pytest.raises(OAuthUnavailable) as raised:
        nowhere.device_start([]) if call == "device" else nowhere.validate("token-abc")
    assert f"cannot reach http://127.0.0.1:1/oauth2/{call} (Connection refused)" in str(
        raised.value
    )
