from __future__ import annotations

from kiss.supervisor.logs import colour_for, format_line


def test_line_is_prefixed_with_the_padded_name() -> None:
    assert format_line("beat", "tick\n", width=8, colour=False) == "beat     | tick"


def test_long_name_is_not_cut() -> None:
    assert format_line("simulator", "up", width=4, colour=False) == "simulator | up"


def test_colour_wraps_only_the_label_and_is_stable_per_name() -> None:
    line = format_line("worker", "ready", width=6, colour=True)
    assert line == f"\x1b[{colour_for('worker')}mworker\x1b[0m | ready"
    assert colour_for("worker") == colour_for("worker")
