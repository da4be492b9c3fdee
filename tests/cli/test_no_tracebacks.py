"""No ``kiss`` command prints a traceback: each bad input, or service that is down, gets a
one-line error naming the problem and what to do, and a non-zero exit, within seconds.

Every case runs the real command in a subprocess, as an operator types it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

import kiss
from tests.conftest import REDIS_URL
from tests.v5seed import V5Channel, make_v5_db, sha256

ROOT = Path(kiss.__file__).resolve().parent.parent


def dead_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    says: tuple[str, ...]  # each must appear in the output
    env: dict[str, str] = field(default_factory=dict)
    never: tuple[str, ...] = ()  # wrong advice or secrets that must not appear
    setup: Callable[[Path], None] | None = None


DOWN = f"redis://:hunter2@127.0.0.1:{dead_port()}/0"
PG_DOWN = f"postgresql+psycopg://kiss:hunter2@127.0.0.1:{dead_port()}/kiss"
V5_KEY = Fernet.generate_key()


def write_list_config(tmp: Path) -> None:
    (tmp / "config").mkdir()
    (tmp / "config" / "config.yaml").write_text("- redis_url: redis://127.0.0.1\n- x: 1\n")


def write_v5_db(tmp: Path) -> None:
    make_v5_db(tmp / "kissbot.db", V5_KEY, (V5Channel("44456636", "el_serda"),))


CASES = {
    "channels-add-redis-down": Case(
        ("channels", "add", "44456636"),
        ("cannot reach Redis", DOWN.replace("hunter2", "***"), "redis_url"),
        env={"KISSBOT_REDIS_URL": DOWN},
        never=("hunter2",),
    ),
    "resync-redis-down": Case(
        ("resync",),
        ("cannot reach Redis", DOWN.replace("hunter2", "***"), "redis_url"),
        env={"KISSBOT_REDIS_URL": DOWN},
        never=("hunter2",),
    ),
    "status-postgres-scheme": Case(
        ("status",),
        ("database_url", "use postgresql+psycopg://kiss:***@db/kiss", "sqlite:///"),
        env={"KISSBOT_DATABASE_URL": "postgres://kiss:hunter2@db/kiss"},
        never=("hunter2",),
    ),
    "upgrade-mysql-scheme": Case(
        ("db", "upgrade"),
        ("mysql:// is not supported", "postgresql+psycopg://", "sqlite:///"),
        env={"KISSBOT_DATABASE_URL": "mysql://kiss:hunter2@db/kiss"},
        never=("hunter2",),
    ),
    "status-postgres-refusing": Case(
        ("status",),
        ("not answering", PG_DOWN.replace("hunter2", "***")),
        env={"KISSBOT_DATABASE_URL": PG_DOWN},
        never=("hunter2", "kiss db upgrade"),
    ),
    "config-top-level-list": Case(
        ("status",),
        ("config/config.yaml", "must be a mapping"),
        setup=write_list_config,
    ),
    "unknown-topic": Case(
        ("channels", "add", "44456636", "--type", "stream.onlin"),
        ("unknown subscription type 'stream.onlin'", "did you mean stream.online"),
    ),
    "state-bogus": Case(
        ("subscriptions", "--state", "bogus"),
        ("'bogus' is not one of", "'pending'", "'failed'"),
    ),
    "resync-negative-wait": Case(("resync", "--wait", "-5"), ("--wait", "-5", "x>=0")),
    "condition-field-no-type-has": Case(
        ("channels", "add", "44456636", "--type", "stream.online", "--condition", "user_id=1"),
        ("none of stream.online has a condition field user_id", "type:field=value"),
    ),
    "condition-for-a-type-not-asked": Case(
        ("channels", "add", "1", "--type", "stream.online", "--condition", "channel.follow:x=1"),
        ("channel.follow is not one of the --type values", "stream.online"),
    ),
    "condition-field-the-type-lacks": Case(
        ("channels", "add", "1", "--type", "stream.online", "--condition", "stream.online:x=1"),
        ("stream.online v1 has no condition field x", "broadcaster_user_id"),
    ),
    "upgrade-on-the-v5-file": Case(
        ("db", "upgrade"),
        ("kissbot.db is an EventSub Hub v5.0 kissbot.db", "kiss db import-seed", "database_url"),
        env={"KISSBOT_DATABASE_URL": "sqlite:///kissbot.db"},
        setup=write_v5_db,
    ),
    "status-on-the-v5-file": Case(
        ("status",),
        ("v5.0 kissbot.db", "kiss db import-seed"),
        env={"KISSBOT_DATABASE_URL": "sqlite:///kissbot.db"},
        never=("Run `kiss db upgrade`",),
        setup=write_v5_db,
    ),
    "import-seed-wrong-key": Case(
        ("db", "import-seed", "kissbot.db"),
        ("does not decrypt the seed's tokens", "--seed-key-file"),
        setup=write_v5_db,
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_clear_error_and_no_traceback(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    if case.setup is not None:
        case.setup(tmp_path)
    v5_file = tmp_path / "kissbot.db"
    before = sha256(v5_file) if v5_file.exists() else None
    env = {k: v for k, v in os.environ.items() if not k.startswith("KISSBOT_")}
    env.update(
        PYTHONPATH=str(ROOT),
        KISSBOT_REDIS_URL=REDIS_URL,
        KISSBOT_KEY_PREFIX=f"test-{uuid.uuid4().hex[:12]}",  # nothing may reach a real hub
        KISSBOT_DATABASE_URL=f"sqlite:///{tmp_path}/kiss-hub.db",
        KISSBOT_SECRET_KEY_FILE=str(tmp_path / "hub.key"),
    )
    env.update(case.env)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "kiss", *case.args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    took = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "Traceback" not in output, output
    for words in case.says:
        assert words in output, output
    for words in case.never:
        assert words not in output, output
    assert took < 10, f"{took:.1f}s: {output}"
    if before is not None:
        assert sha256(v5_file) == before  # the v5 file is never touched
