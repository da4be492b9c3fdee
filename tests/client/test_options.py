from __future__ import annotations

import os

import pytest

from kiss.client.options import ClientOptions


def test_defaults_name_this_process() -> None:
    assert ClientOptions().consumer.endswith(f"-{os.getpid()}")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"count": 0}, "count"),
        ({"max_deliveries": 0}, "max_deliveries"),
        ({"presence_ttl": 1.0, "presence_interval": 5.0}, "presence_ttl"),
        ({"backoff_base": 2.0, "backoff_max": 1.0}, "backoff_max"),
        ({"backoff_base": 0.0}, "backoff_base"),
    ],
)
def test_bad_values_are_named(change: dict[str, float], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ClientOptions(**change)  # type: ignore[arg-type]
