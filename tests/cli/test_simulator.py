"""``kiss simulator``: serving, and the control subcommands against a running simulator."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests
from click.testing import CliRunner

from kiss.cli import main
from kiss.simulator.testing import SimulatorControl, SimulatorHandle, run_simulator_process
from tests.waiting import TIME_UNIT


@pytest.fixture(scope="module")
def running() -> Iterator[SimulatorHandle]:
    with run_simulator_process(time_unit=TIME_UNIT, subscribe_window=1000) as handle:
        yield handle


def kiss(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_help_lists_the_subcommands() -> None:
    code, output = kiss("simulator", "--help")
    assert code == 0
    for name in (
        "serve",
        "trigger",
        "load",
        "reconnect",
        "close",
        "revoke",
        "expire-token",
        "fault",
    ):
        assert name in output


def test_trigger_and_token(running: SimulatorHandle) -> None:
    code, output = kiss(
        "simulator", "token", "--user-id", "1001", "--scope", "bits:read", "--url", running.base_url
    )
    assert code == 0 and json.loads(output)["user_id"] == "1001"
    code, output = kiss(
        "simulator",
        "trigger",
        "stream.online",
        "-b",
        "1001",
        "--count",
        "2",
        "--url",
        running.base_url,
    )
    assert code == 0 and json.loads(output)["sent"] == 0  # nobody subscribed
    code, output = kiss("simulator", "trigger", "no.such", "--url", running.base_url)
    assert code != 0 and "unknown subscription type" in output
    code, output = kiss(
        "simulator", "trigger", "stream.online", "--event", "[1]", "--url", running.base_url
    )
    assert code != 0 and "JSON object" in output


def test_fault_and_clear(running: SimulatorHandle) -> None:
    code, output = kiss(
        "simulator",
        "fault",
        "--path-prefix",
        "/helix",
        "--kind",
        "5xx",
        "--count",
        "2",
        "--url",
        running.base_url,
    )
    assert code == 0 and json.loads(output)["data"][0]["count"] == 2
    assert kiss("simulator", "fault", "--clear", "--url", running.base_url)[0] == 0
    assert SimulatorControl(running.base_url).call("GET", "/faults")["data"] == []


def test_load_waits_and_reports(running: SimulatorHandle) -> None:
    code, output = kiss(
        "simulator", "load", "--rate", "0", "--total", "4", "--wait", "--url", running.base_url
    )
    assert code == 0
    status = json.loads(output)
    assert status["running"] is False and status["sent"] == 4
    assert (
        kiss("simulator", "load", "--url", running.base_url)[0] != 0
    )  # needs --total or --duration


def test_session_commands(running: SimulatorHandle) -> None:
    code, output = kiss(
        "simulator", "close", "missing", "--code", "4001", "--url", running.base_url
    )
    assert code != 0 and "not connected" in output
    assert kiss("simulator", "close", "x", "--code", "1000", "--url", running.base_url)[0] != 0
    code, output = kiss("simulator", "reconnect", "missing", "--url", running.base_url)
    assert code != 0
    code, output = kiss("simulator", "revoke", "missing", "--url", running.base_url)
    assert code != 0 and "not found" in output
    code, output = kiss("simulator", "drop", "missing", "--url", running.base_url)
    assert code != 0 and "not connected" in output
    code, output = kiss("simulator", "silence", "missing", "--off", "--url", running.base_url)
    assert code != 0 and "not connected" in output
    code, output = kiss("simulator", "expire-token", "nope", "--url", running.base_url)
    assert code != 0
    code, output = kiss("simulator", "sessions", "--url", running.base_url)
    assert code == 0 and isinstance(json.loads(output), list)
    code, output = kiss("simulator", "stats", "--url", running.base_url)
    assert code == 0 and "notifications_sent" in json.loads(output)


def test_unreachable_simulator_is_a_clear_error() -> None:
    code, output = kiss("simulator", "stats", "--url", "http://127.0.0.1:1")
    assert code != 0
    assert "the simulator: cannot reach http://127.0.0.1:1/control/stats" in output


def test_bad_serve_option_is_rejected() -> None:
    code, output = kiss("simulator", "--time-unit", "0")
    assert code != 0 and "time-unit" in output


def test_kiss_simulator_serves_with_one_command() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "kiss", "simulator", "--port", "0", "--time-unit", "0.02"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("simulator listening on http://127.0.0.1:")
        url = line.split()[-1]
        assert requests.get(f"{url}/control/stats", timeout=5).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_simulator_exits_0_on_a_signal(signum: signal.Signals) -> None:
    """``docker stop`` sends SIGTERM: the simulator stops within 5 s with 0, not 143."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kiss.simulator", "--port", "0", "--time-unit", "0.02"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith("simulator listening on ")
        process.send_signal(signum)
        assert process.wait(timeout=5) == 0
        _, errors = process.communicate(timeout=5)
        assert "Traceback" not in errors, errors
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_port_defaults_to_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KISSBOT_SIMULATOR__PORT", "0")
    process = subprocess.Popen(
        [sys.executable, "-m", "kiss", "simulator", "--time-unit", "0.02"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("simulator listening on http://127.0.0.1:")
        assert not line.rstrip().endswith(":8080")
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_bad_settings_are_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KISSBOT_SIMULATOR__PORT", "99999")
    code, output = kiss("simulator", "--time-unit", "0.02")
    assert code != 0 and "port" in output
