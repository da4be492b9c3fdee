from __future__ import annotations

import pytest

from kiss.contracts.timestamps import epoch_text


@pytest.mark.parametrize("seconds", [0.0, 1.0, 12.5, 1700000000.123456, 1764100000.9999999])
def test_epoch_text_reads_back_the_same_float(seconds: float) -> None:
    assert float(epoch_text(seconds)) == seconds


def test_an_int_is_written_as_seconds_with_a_point() -> None:
    assert epoch_text(12) == "12.0"
