"""Fault scenarios: real processes and a Redis of the test's own, to stop and start."""

from __future__ import annotations

# private_redis, a Redis of the test's own, is in tests/conftest.py (the client tests use it too).
