from __future__ import annotations

import socket

import pytest

from kiss.client.options import ClientOptions, consumer_name


def test_the_default_instance_is_the_host_so_a_restart_keeps_the_name() -> None:
    assert ClientOptions().instance == socket.gethostname()
    assert consumer_name("greeter", "web-1") == "greeter@web-1"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"count": 0}, "count"),
        ({"max_deliveries": 0}, "max_deliveries"),
        ({"presence_ttl": 1.0, "presence_interval": 5.0}, "presence_ttl"),
        ({"backoff_base": 2.0, "backoff_max": 1.0}, "backoff_max"),
        ({"backoff_base": 0.0}, "backoff_base"),
        ({"instance": ""}, "instance"),
        ({"instance": "two words"}, "instance"),
    ],
)
def test_bad_values_are_named(change: dict[str, float], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        ClientOptions(**change)  # type: ignore[arg-type]
