"""The local run's settings file: written 0600, read between the environment and the config."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from kiss import localrun
from kiss.settings import load_settings

SIMULATOR: dict[str, object] = {
    "twitch": {"helix_url": "http://127.0.0.1:4567/helix", "client_id": "demo"}
}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("KISSBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write_here(settings: dict[str, object]) -> Path:
    state_dir = Path(".kiss-run")
    state_dir.mkdir(exist_ok=True)
    return localrun.write(state_dir, settings, {"flower": {"url": "http://127.0.0.1:5555/"}})


def test_nested_reads_the_variables_as_the_environment_does() -> None:
    env = {
        "KISSBOT_TWITCH__HELIX_URL": "http://h/helix",
        "KISSBOT_TWITCH__CLIENT_ID": "demo",
        "KISSBOT_LOG_LEVEL": "DEBUG",
        "PATH": "/bin",
    }
    assert localrun.nested(env) == {
        "twitch": {"helix_url": "http://h/helix", "client_id": "demo"},
        "log_level": "DEBUG",
    }


def test_the_file_is_private_and_the_commands_read_it() -> None:
    path = write_here(SIMULATOR)
    assert path == localrun.DEFAULT_PATH
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    settings = load_settings()
    assert settings.twitch.helix_url == "http://127.0.0.1:4567/helix"
    assert settings.twitch.client_id == "demo"
    assert settings.twitch.oauth_url == "https://id.twitch.tv/oauth2"  # untouched: the default


def test_environment_beats_the_file_which_beats_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    Path("config").mkdir()
    Path("config/config.yaml").write_text(
        "log_level: WARNING\ntwitch:\n  helix_url: http://config/helix\n  client_id: mine\n"
    )
    write_here(SIMULATOR)
    monkeypatch.setenv("KISSBOT_TWITCH__CLIENT_ID", "from-env")
    settings = load_settings()
    assert settings.twitch.client_id == "from-env"  # env > file
    assert settings.twitch.helix_url == "http://127.0.0.1:4567/helix"  # file > config
    assert settings.log_level == "WARNING"  # the config where the file says nothing


def test_a_file_left_by_a_run_that_is_gone_is_ignored() -> None:
    path = write_here(SIMULATOR)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    document = orjson.loads(path.read_bytes())
    document["pid"] = int(dead.stdout)
    path.write_bytes(orjson.dumps(document))
    assert load_settings().twitch.helix_url == "https://api.twitch.tv/helix"


def test_another_path_or_none(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    elsewhere = tmp_path / "state"
    elsewhere.mkdir()
    localrun.write(elsewhere, SIMULATOR, {})
    assert load_settings().twitch.client_id == ""  # not where the commands look by default
    monkeypatch.setenv(localrun.PATH_VARIABLE, str(elsewhere / localrun.FILE_NAME))
    assert load_settings().twitch.client_id == "demo"
    write_here(SIMULATOR)
    monkeypatch.setenv(localrun.PATH_VARIABLE, "")
    assert load_settings().twitch.client_id == ""  # switched off


def test_remove_leaves_a_newer_runs_file_alone() -> None:
    path = write_here(SIMULATOR)
    localrun.remove(path)
    assert not path.exists()
    path = write_here(SIMULATOR)
    document = orjson.loads(path.read_bytes())
    document["pid"] = os.getppid()
    path.write_bytes(orjson.dumps(document))
    localrun.remove(path)
    assert path.exists()
