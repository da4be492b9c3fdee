"""SimulatorConfig: validation, the time unit, the keepalive clamp."""

from __future__ import annotations

from typing import Any

import pytest

from kiss.errors import ConfigError
from kiss.simulator import SimulatorConfig
from tests.waiting import TIME_UNIT


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("time_unit", 0),
        ("time_unit", -1),
        ("rate_limit_points", 0),
        ("rate_limit_window", 0),
        ("port", 70000),
    ],
)
def test_bad_values_name_the_field(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=field):
        options: dict[str, Any] = {field: value}
        SimulatorConfig(**options)


def test_seconds_scale_by_the_time_unit() -> None:
    assert SimulatorConfig(time_unit=TIME_UNIT).seconds(30) == pytest.approx(0.6)
    assert SimulatorConfig().seconds(30) == 30


@pytest.mark.parametrize(
    ("asked", "given"),
    [
        (None, 10),
        ("", 10),
        ("9", 10),
        ("10", 10),
        ("77", 77),
        ("600", 600),
        ("601", 600),
        ("12.9", 12),
        ("ten", 10),
    ],
)
def test_keepalive_clamp(asked: str | None, given: int) -> None:
    assert SimulatorConfig().clamp_keepalive(asked) == given
