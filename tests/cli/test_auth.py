"""``kiss auth`` as a user runs it: a subprocess against the simulator."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kiss.simulator.testing import SimulatorControl, SimulatorHandle

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(simulator: SimulatorHandle, sqlite_url: str, tmp_path: Path) -> dict[str, str]:
    control = SimulatorControl(simulator.base_url)
    client = control.client()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KISSBOT_")}
    environment.update(
        {
            "KISSBOT_DATABASE_URL": sqlite_url,
            "KISSBOT_SECRET_KEY_FILE": str(tmp_path / "secret.key"),
            "KISSBOT_TWITCH__OAUTH_URL": simulator.oauth_url,
            "KISSBOT_TWITCH__HELIX_URL": simulator.helix_url,
            "KISSBOT_TWITCH__CLIENT_ID": client["client_id"],
            "KISSBOT_TWITCH__CLIENT_SECRET": client["client_secret"],
            "PYTHONUNBUFFERED": "1",
        }
    )
    return environment


def kiss(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiss", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_login_with_the_device_code_flow_then_list_and_revoke(
    env: dict[str, str], simulator: SimulatorHandle
) -> None:
    login = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kiss",
            "auth",
            "login",
            "--scopes",
            "bits:read,channel:bot",
            "--poll-interval",
            "0.05",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert login.stdout is not None
    first = login.stdout.readline()
    match = re.search(r"enter the code (\S+)", first)
    assert match, first
    SimulatorControl(simulator.base_url).approve_device(match.group(1), "4242")
    output, _ = login.communicate(timeout=60)
    assert login.returncode == 0, output
    assert "user 4242" in output and "bits:read" in output

    listed = kiss(env, "auth", "list")
    assert listed.returncode == 0, listed.stderr
    assert "4242" in listed.stdout and "valid" in listed.stdout
    secret_file = Path(env["KISSBOT_SECRET_KEY_FILE"])
    assert secret_file.exists()

    validated = kiss(env, "auth", "validate")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "user:4242" in validated.stdout

    SimulatorControl(simulator.base_url).fault("/oauth2/revoke", status=503, count=1)
    unreachable = kiss(env, "auth", "revoke", "4242")
    assert unreachable.returncode != 0 and "the token is kept" in unreachable.stderr
    assert "4242" in kiss(env, "auth", "list").stdout

    revoked = kiss(env, "auth", "revoke", "4242")
    assert revoked.returncode == 0, revoked.stderr
    assert "4242" not in kiss(env, "auth", "list").stdout


def test_app_token_and_bad_usage(env: dict[str, str]) -> None:
    assert kiss(env, "auth", "app").returncode == 0
    assert "app" in kiss(env, "auth", "list").stdout
    wrong = kiss(env, "auth", "revoke")
    assert wrong.returncode != 0 and "USER_ID or --app" in wrong.stderr
    missing = kiss(env, "auth", "revoke", "nobody")
    assert missing.returncode != 0 and "no stored token" in missing.stderr
