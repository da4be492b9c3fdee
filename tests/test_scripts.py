"""scripts/test in a fresh clone: installs requirements-dev.txt into .venv once, then runs pytest.

The clone is a temporary copy of the script beside stand-in ``python`` and ``pip`` of a .venv
that record what they are asked (no network, no real install).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import kiss

ROOT = Path(kiss.__file__).resolve().parent.parent

# `python -c "import pytest"` fails until pip has "installed" it; `python -m pytest` says so.
FAKE_PYTHON = """#!/usr/bin/env bash
here="$(dirname "$0")"
if [ "$1" = "-c" ]; then [ -f "$here/../pytest-installed" ]; exit; fi
echo "pytest $*" >> "$here/../calls"
"""
FAKE_PIP = """#!/usr/bin/env bash
here="$(dirname "$0")"
echo "pip $*" >> "$here/../calls"
touch "$here/../pytest-installed"
"""


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "test", tmp_path / "scripts" / "test")
    for name in ("requirements.txt", "requirements-dev.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (("python", FAKE_PYTHON), ("pip", FAKE_PIP)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return tmp_path


def run_script(clone: Path) -> list[str]:
    done = subprocess.run(
        ["bash", "scripts/test", "-q", "tests/x.py"],
        cwd=clone,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    calls = (clone / ".venv" / "calls").read_text().splitlines()
    (clone / ".venv" / "calls").unlink()
    return calls


def test_a_fresh_clone_gets_the_dev_requirements_once(clone: Path) -> None:
    first = run_script(clone)
    assert first[0].startswith("pip install") and "-r requirements-dev.txt" in first[0]
    assert first[-1] == "pytest -m pytest -q tests/x.py"
    assert run_script(clone) == ["pytest -m pytest -q tests/x.py"]  # installed: not again


def test_changed_requirements_are_installed_again(clone: Path) -> None:
    run_script(clone)
    stamp = clone / ".venv" / ".kiss-dev-installed"
    os.utime(stamp, (1_000_000, 1_000_000))  # older than requirements-dev.txt
    assert any("requirements-dev.txt" in call for call in run_script(clone))


def test_after_the_ci_install_nothing_is_installed_twice(clone: Path) -> None:
    # .ci/run installs requirements-dev.txt itself, then touches the stamp scripts/test reads.
    ci = (ROOT / ".ci" / "run").read_text()
    assert "touch .venv/.kiss-dev-installed" in ci
    (clone / ".venv" / "pytest-installed").touch()
    (clone / ".venv" / ".kiss-dev-installed").touch()
    assert run_script(clone) == ["pytest -m pytest -q tests/x.py"]
