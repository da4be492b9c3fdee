from __future__ import annotations

import logging

import pytest

from kiss.logs import configure_logging, redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abcdef0123456789", "abcdef0123456789"),
        ("Authorization: OAuth abcdef0123456789", "abcdef0123456789"),
        ("grant_type=refresh_token&refresh_token=r3fr3shT0ken&client_id=x", "r3fr3shT0ken"),
        ('{"access_token": "acc3ssT0ken", "expires_in": 3600}', "acc3ssT0ken"),
        ("client_secret=sup3rs3cret", "sup3rs3cret"),
        ("redis://:hunter22@redis:6379/0", "hunter22"),
        ("postgresql+psycopg://kiss:pa55word@db/kiss", "pa55word"),
    ],
)
def test_redact_masks_secrets(text: str, secret: str) -> None:
    masked = redact(text)
    assert secret not in masked
    assert "***" in masked


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "created subscription 3f1c for channel 12826 (stream.online v1)"
    assert redact(text) == text


def test_configured_logger_masks_exception_text(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", process="test")
    try:
        raise RuntimeError("refresh failed for refresh_token=abcd1234efgh")
    except RuntimeError:
        logging.getLogger("kiss.test").exception("token refresh failed")
    err = capsys.readouterr().err
    assert "token refresh failed" in err
    assert "abcd1234efgh" not in err
