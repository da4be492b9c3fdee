"""Fault scenarios: real processes and a Redis of the test's own, to stop and start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_server import PrivateRedis


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A redis-server on a free port, with AOF: the test may stop, restart or cut it."""
    server = PrivateRedis(str(tmp_path / "redis"))
    Path(server.directory).mkdir(parents=True, exist_ok=True)
    server.start()
    yield server
    server.stop()
