"""Helpers for other parts' tests: a simulator in a subprocess, and a sync control client.

with run_simulator_process(time_unit=0.02) as sim:
    control = SimulatorControl(sim.base_url)
    token = control.token(user_id="1001", scopes=["user:read:chat"])
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import requests

from kiss.simulator.config import DEMO_CLIENT_ID

READY_PREFIX = "simulator listening on "


@dataclass(frozen=True)
class SimulatorHandle:
    base_url: str
    process: subprocess.Popen[str]

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1) + "/ws"

    @property
    def helix_url(self) -> str:
        return f"{self.base_url}/helix"

    @property
    def oauth_url(self) -> str:
        return f"{self.base_url}/oauth2"


def _option(name: str, value: Any) -> list[str]:
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return [flag if value else "--no-" + flag[2:]]
    return [flag, str(value)]


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


@contextmanager
def run_simulator_process(
    time_unit: float = 1.0, *, startup_timeout: float = 20.0, **options: Any
) -> Iterator[SimulatorHandle]:
    """Start ``python -m kiss.simulator --port 0`` and yield its addresses; stop it after."""
    command = [sys.executable, "-m", "kiss.simulator", "--port", "0", "--time-unit", str(time_unit)]
    for name, value in options.items():
        command += _option(name, value)
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    try:
        try:
            line = lines.get(timeout=startup_timeout)
        except queue.Empty:
            raise RuntimeError(f"simulator did not start within {startup_timeout} s") from None
        if line is None or not line.startswith(READY_PREFIX):
            raise RuntimeError(f"simulator failed to start (exit {process.poll()}): {line!r}")
        yield SimulatorHandle(line[len(READY_PREFIX) :].strip(), process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class SimulatorError(RuntimeError):
    """The control API answered with an error."""


class SimulatorControl:
    """A small sync client of the control API (see kiss/simulator/README.md)."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One control call; the decoded JSON answer, or SimulatorError."""
        response = self.http.request(
            method, f"{self.base_url}/control{path}", json=body, timeout=self.timeout
        )
        if response.status_code >= 400:
            raise SimulatorError(
                f"{method} /control{path} -> {response.status_code}: {response.text}"
            )
        answer = response.json()
        if not isinstance(answer, dict):
            raise SimulatorError(f"{method} /control{path} answered {answer!r}")
        return answer

    def client(
        self, client_id: str | None = None, client_secret: str | None = None
    ) -> dict[str, str]:
        return self.call(
            "POST", "/clients", {"client_id": client_id, "client_secret": client_secret}
        )

    def user(self, login: str, user_id: str | None = None) -> dict[str, str]:
        return self.call("POST", "/users", {"login": login, "user_id": user_id})

    def token(
        self,
        *,
        client_id: str = DEMO_CLIENT_ID,
        user_id: str | None = None,
        scopes: list[str] | tuple[str, ...] = (),
        expires_in: float | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"client_id": client_id, "user_id": user_id, "scopes": list(scopes)}
        if expires_in is not None:
            body["expires_in"] = expires_in
        return self.call("POST", "/tokens", body)

    def authorize(
        self, user_id: str, scopes: list[str] | tuple[str, ...], client_id: str = DEMO_CLIENT_ID
    ) -> None:
        self.call(
            "POST",
            "/authorizations",
            {"client_id": client_id, "user_id": user_id, "scopes": list(scopes)},
        )

    def expire_token(self, access_token: str) -> None:
        self.call("POST", "/tokens/expire", {"access_token": access_token})

    def approve_device(self, user_code: str, user_id: str) -> None:
        self.call("POST", "/device/approve", {"user_code": user_code, "user_id": user_id})

    def trigger(
        self,
        type_: str,
        broadcaster_user_id: str | None = None,
        *,
        version: str | None = None,
        condition: dict[str, str] | None = None,
        event: dict[str, Any] | None = None,
        count: int = 1,
        resend: int = 0,
        twin: bool = False,
    ) -> dict[str, Any]:
        body = {
            "type": type_,
            "version": version,
            "broadcaster_user_id": broadcaster_user_id,
            "condition": condition,
            "event": event,
            "count": count,
            "resend": resend,
            "twin": twin,
        }
        return self.call("POST", "/trigger", body)

    def load(
        self,
        *,
        rate: float,
        channels: int | list[str],
        total: int | None = None,
        duration: float | None = None,
        type_: str | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "rate": rate,
            "channels": channels,
            "total": total,
            "duration": duration,
        }
        if type_ is not None:
            body["type"] = type_
        return str(self.call("POST", "/load", body)["load_id"])

    def load_status(self, load_id: str) -> dict[str, Any]:
        return self.call("GET", f"/load/{load_id}")

    def stop_load(self, load_id: str) -> dict[str, Any]:
        return self.call("DELETE", f"/load/{load_id}")

    def sessions(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/sessions")["data"])

    def subscriptions(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/subscriptions")["data"])

    def conduits(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/conduits")["data"])

    def reconnect(self, session_id: str) -> str:
        return str(self.call("POST", f"/sessions/{session_id}/reconnect")["reconnect_url"])

    def close(self, session_id: str, code: int) -> None:
        self.call("POST", f"/sessions/{session_id}/close", {"code": code})

    def drop(self, session_id: str) -> None:
        """Cut a session's TCP connection with no close frame (a network failure)."""
        self.call("POST", f"/sessions/{session_id}/drop")

    def silence(self, session_id: str, silent: bool = True) -> None:
        """Stop (or resume) every frame to a session; its socket stays open."""
        self.call("POST", f"/sessions/{session_id}/silence", {"silent": silent})

    def raw_frames(self, session_id: str, frames: list[dict[str, str]], repeat: int = 1) -> int:
        """Write frames as they are to a session's socket: ``{"text": ...}`` (``@N@`` numbered
        by repetition) or ``{"binary_base64": ...}``, ``repeat`` times; how many were sent."""
        body = {"frames": frames, "repeat": repeat}
        return int(self.call("POST", f"/sessions/{session_id}/frames", body)["sent"])

    def revoke(self, subscription_id: str, reason: str = "authorization_revoked") -> None:
        self.call("POST", f"/subscriptions/{subscription_id}/revoke", {"reason": reason})

    def fault(
        self,
        path_prefix: str,
        *,
        status: int | None = None,
        count: int | None = None,
        latency_ms: float = 0,
        kind: str | None = None,
        probability: float | None = None,
        after: bool = False,
    ) -> None:
        body = {
            "path_prefix": path_prefix,
            "status": status,
            "count": count,
            "latency_ms": latency_ms,
            "kind": kind,
            "probability": probability,
            "after": after,
        }
        self.call("POST", "/faults", body)

    def clear_faults(self) -> None:
        self.call("DELETE", "/faults")

    def stats(self) -> dict[str, Any]:
        return self.call("GET", "/stats")
