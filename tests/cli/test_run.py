"""``kiss run`` and ``kiss demo``: their checks before anything starts (the run itself is
tests/e2e/test_local_run.py)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

import kiss
from kiss.cli import main
from kiss.cli.run import _flower_auth, _supervise
from kiss.keys import Keys
from kiss.simulator.testing import run_simulator_process
from kiss.store.db import make_engine, session_factory, upgrade
from kiss.store.tokens import list_tokens
from kiss.supervisor.runner import Supervisor
from kiss.supervisor.spec import ProcessSpec
from tests.waiting import PROCESS_TIME_UNIT


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


def test_a_busy_flower_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            main,
            ["run", "--flower-port", str(port), "--state-dir", str(tmp_path / "s")],
            env={"KISSBOT_REDIS_URL": "redis://127.0.0.1:6379/0"},
        )
    assert result.exit_code == 2
    assert f"port {port} is in use" in result.output
    assert not (tmp_path / "s").exists()


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


def test_demo_stores_tokens_runs_bots_and_stops_on_sigterm(
    tmp_path: Path, sqlite_url: str, redis_url: str, keys: Keys
) -> None:
    upgrade(sqlite_url)
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(kiss.__file__).resolve().parent.parent),
        "KISSBOT_REDIS_URL": redis_url,
        "KISSBOT_KEY_PREFIX": keys.prefix,
        "KISSBOT_DATABASE_URL": sqlite_url,
        "KISSBOT_SECRET_KEY_FILE": str(tmp_path / "kissbot.key"),
    }
    with run_simulator_process(time_unit=PROCESS_TIME_UNIT) as sim:
        process = psutil.Popen(
            [
                sys.executable,
                "-m",
                "kiss",
                "demo",
                "--simulator-url",
                sim.base_url,
                "--channels",
                "1",
                "--rate",
                "5",
            ],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert process.stdout is not None
            lines = []
            for line in process.stdout:
                lines.append(line)
                if "demo channels:" in line:
                    break
            assert "demo_streamer_1" in lines[-1], "".join(lines)
            bots = process.children()
            assert len(bots) == 1
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0
            assert not psutil.wait_procs(bots, timeout=10)[1]
        finally:
            if process.is_running():
                process.kill()
    engine = make_engine(sqlite_url)
    with session_factory(engine)() as session:
        assert [token.login for token in list_tokens(session)] == ["demo_streamer_1"]
    engine.dispose()


def test_a_failing_startup_step_stops_what_started_and_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    started: list[int] = []

    async def body(supervisor: Supervisor) -> None:
        await supervisor.start(
            ProcessSpec("sleeper", (sys.executable, "-c", "import time; time.sleep(60)"))
        )
        started.extend(supervisor.pids.values())
        raise RuntimeError("the simulator refused the demo users")

    assert asyncio.run(_supervise(body)) == 1
    out = capsys.readouterr().out
    assert "startup failed: RuntimeError: the simulator refused the demo users" in out
    assert not psutil.pid_exists(started[0]) or psutil.Process(started[0]).status() == "zombie"
