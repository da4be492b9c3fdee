"""``kiss run`` and ``kiss demo``: their checks before anything starts (the run itself is
tests/e2e/test_local_run.py)."""

from __future__ import annotations

import stat
from pathlib import Path

from click.testing import CliRunner

from kiss.cli import main
from kiss.cli.run import _flower_auth


def test_flower_credentials_are_generated_once_into_a_private_file(tmp_path: Path) -> None:
    auth, hint = _flower_auth(tmp_path, None)
    user, _, password = auth.partition(":")
    assert user == "kiss" and len(password) >= 12
    path = tmp_path / "flower-auth"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert str(path) in hint and password not in hint
    assert _flower_auth(tmp_path, None)[0] == auth


def test_given_flower_credentials_are_used_as_they_are(tmp_path: Path) -> None:
    assert _flower_auth(tmp_path, "ops:pw") == ("ops:pw", "as given")
    assert not (tmp_path / "flower-auth").exists()


def test_flower_credentials_without_a_colon_are_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["run", "--flower-auth", "nocolon", "--state-dir", str(tmp_path / "s")],
        env={"KISSBOT_REDIS_URL": "redis://127.0.0.1:6379/0"},
    )
    assert result.exit_code == 2
    assert "expected user:password" in result.output


def test_without_redis_the_run_says_how_to_start_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        ["run", "--state-dir", str(tmp_path / "s")],
        env={"KISSBOT_REDIS_URL": "redis://:pw-xyz@127.0.0.1:1/0"},
    )
    assert result.exit_code == 1
    assert "redis-server" in result.output
    assert "pw-xyz" not in result.output
    assert not (tmp_path / "s").exists()


def test_a_bad_setting_stops_the_run_before_anything_starts(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["run", "--state-dir", str(tmp_path / "s")], env={"KISSBOT_METRICS_PORT": "-4"}
    )
    assert result.exit_code == 1
    assert "metrics_port" in result.output
