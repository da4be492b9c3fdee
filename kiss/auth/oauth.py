"""Twitch OAuth over HTTP (twitch-eventsub.md §6): device code flow, client credentials,
refresh and validate. No storage here: kiss.auth.store_provider keeps the results.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import requests

from kiss.errors import OAuthUnavailable, TokenError, unreachable

TIMEOUT = (3.05, 10.0)
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass(frozen=True, slots=True)
class Grant:
    """Tokens Twitch just issued; never logged (see __repr__)."""

    access_token: str
    refresh_token: str | None
    expires_in: int | None
    scopes: tuple[str, ...]

    def __repr__(self) -> str:
        return f"Grant(scopes={self.scopes}, expires_in={self.expires_in})"


@dataclass(frozen=True, slots=True)
class DeviceCode:
    device_code: str
    user_code: str
    verification_uri: str
    expires_in: int
    interval: float

    def __repr__(self) -> str:
        return f"DeviceCode(user_code={self.user_code!r}, uri={self.verification_uri!r})"


@dataclass(frozen=True, slots=True)
class Validation:
    client_id: str
    login: str
    user_id: str
    scopes: tuple[str, ...]
    expires_in: int | None


class DevicePending(Exception):
    """The user has not approved the device code yet."""


def _message(body: Any, status: int) -> str:
    if isinstance(body, dict):
        for name in ("message", "error_description", "error"):
            value = body.get(name)
            if isinstance(value, str) and value:
                return value
    return f"HTTP {status}"


def _check_available(path: str, response: requests.Response) -> None:
    """A 5xx or 429 says nothing of the token: raise the retryable error for it."""
    if response.status_code >= 500 or response.status_code == 429:
        raise OAuthUnavailable(
            f"Twitch OAuth, {path} request: Twitch answered {response.status_code}"
        )


class OAuthClient:
    def __init__(
        self,
        oauth_url: str,
        client_id: str,
        client_secret: str = "",
        *,
        session: requests.Session | None = None,
    ) -> None:
        self.oauth_url = oauth_url.rstrip("/")
        self.client_id = client_id
        self._secret = client_secret
        self._session = session or requests.Session()

    def close(self) -> None:
        self._session.close()

    def _post(self, path: str, form: Mapping[str, str]) -> tuple[int, Any]:
        url = f"{self.oauth_url}/{path}"
        try:
            response = self._session.post(url, data=form, timeout=TIMEOUT)
        except requests.RequestException as error:
            raise OAuthUnavailable(
                f"Twitch OAuth, {path} request: {unreachable(url, error)}"
            ) from error
        _check_available(path, response)
        return response.status_code, self._decode(response)

    @staticmethod
    def _decode(response: requests.Response) -> Any:
        try:
            return orjson.loads(response.content) if response.content else {}
        except orjson.JSONDecodeError:
            return {}

    @staticmethod
    def _grant(body: Any, what: str) -> Grant:
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise TokenError(f"{what}: the answer has no access_token")
        scope = body.get("scope") or []
        scopes = tuple(scope.split()) if isinstance(scope, str) else tuple(scope)
        expires = body.get("expires_in")
        return Grant(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token") or None,
            expires_in=int(expires) if isinstance(expires, int | float) else None,
            scopes=scopes,
        )

    def client_credentials(self) -> Grant:
        """An app access token for this client id and secret."""
        status, body = self._post(
            "token",
            {
                "client_id": self.client_id,
                "client_secret": self._secret,
                "grant_type": "client_credentials",
            },
        )
        if status != 200:
            raise TokenError(f"client credentials refused: {_message(body, status)}")
        return self._grant(body, "client credentials")

    def refresh(self, refresh_token: str) -> Grant:
        """New tokens for a refresh token (which rotates: store the new one)."""
        form = {
            "client_id": self.client_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        if self._secret:
            form["client_secret"] = self._secret
        status, body = self._post("token", form)
        if status != 200:
            raise TokenError(f"refresh refused: {_message(body, status)}")
        return self._grant(body, "refresh")

    def validate(self, access_token: str) -> Validation:
        """What Twitch knows of a token; TokenError when it is invalid."""
        url = f"{self.oauth_url}/validate"
        try:
            response = self._session.get(
                url, headers={"Authorization": f"OAuth {access_token}"}, timeout=TIMEOUT
            )
        except requests.RequestException as error:
            raise OAuthUnavailable(
                f"Twitch OAuth, validate request: {unreachable(url, error)}"
            ) from error
        _check_available("validate", response)
        body = self._decode(response)
        if response.status_code != 200 or not isinstance(body, dict):
            raise TokenError(f"token is invalid: {_message(body, response.status_code)}")
        expires = body.get("expires_in")
        return Validation(
            client_id=str(body.get("client_id", "")),
            login=str(body.get("login") or ""),
            user_id=str(body.get("user_id") or ""),
            scopes=tuple(body.get("scopes") or ()),
            expires_in=int(expires) if isinstance(expires, int | float) else None,
        )

    def revoke(self, access_token: str) -> None:
        """Tell Twitch to revoke a token (POST /oauth2/revoke); TokenError if refused."""
        status, body = self._post("revoke", {"client_id": self.client_id, "token": access_token})
        if status != 200:
            raise TokenError(f"revoke refused: {_message(body, status)}")

    def device_start(self, scopes: Iterable[str]) -> DeviceCode:
        status, body = self._post(
            "device", {"client_id": self.client_id, "scopes": " ".join(scopes)}
        )
        if status != 200 or not isinstance(body, dict) or "device_code" not in body:
            raise TokenError(f"device code refused: {_message(body, status)}")
        return DeviceCode(
            device_code=str(body["device_code"]),
            user_code=str(body.get("user_code", "")),
            verification_uri=str(body.get("verification_uri", "")),
            expires_in=int(body.get("expires_in", 1800)),
            interval=max(0.05, float(body.get("interval", 5))),
        )

    def device_poll(self, code: DeviceCode, scopes: Iterable[str]) -> Grant:
        """The grant once approved; DevicePending while the user has not approved yet (or
        Twitch could not answer this poll: the next one may)."""
        form = {
            "client_id": self.client_id,
            "scopes": " ".join(scopes),
            "device_code": code.device_code,
            "grant_type": DEVICE_GRANT,
        }
        try:
            status, body = self._post("token", form)
        except OAuthUnavailable as error:
            raise DevicePending(str(error)) from error
        if status == 200:
            return self._grant(body, "device code")
        message = _message(body, status)
        if "authorization_pending" in message or "slow_down" in message:
            raise DevicePending(message)
        raise TokenError(f"device code flow failed: {message}")

    def device_wait(
        self,
        code: DeviceCode,
        scopes: Iterable[str],
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        interval: float | None = None,
    ) -> Grant:
        """Poll every ``interval`` (Twitch's by default) until approved or expired."""
        scopes = tuple(scopes)
        deadline = clock() + code.expires_in
        step = code.interval if interval is None else interval
        while clock() < deadline:
            try:
                return self.device_poll(code, scopes)
            except DevicePending:
                sleep(step)
        raise TokenError("device code expired before the user approved it")
