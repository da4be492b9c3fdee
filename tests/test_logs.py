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


def json_lines(text: str) -> list[dict[str, object]]:
    import orjson

    return [orjson.loads(line) for line in text.splitlines()]


def test_json_logs_are_one_object_per_line_with_the_context_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import asyncio

    from kiss.logs import bind

    configure_logging("INFO", process="listener", log_format="json")
    logger = logging.getLogger("kiss.listener.runner")

    async def slot_task(name: str) -> None:
        bind(slot=name)  # this task's lines only
        logger.info("session welcomed\nsecond line")

    async def main() -> None:
        bind(listener_id="host-1")
        await asyncio.gather(slot_task("conduit:C:shard:0"), slot_task("conduit:C:shard:1"))
        logger.info(
            "dropped a notification",
            extra={"channel_id": "4242", "message_id": "m-1"},
        )

    asyncio.run(main())
    lines = json_lines(capsys.readouterr().err)
    assert len(lines) == 3
    first = lines[0]
    assert set(first) == {"time", "level", "logger", "message", "process", "pid", "listener_id",
                          "slot"}  # fmt: skip
    assert (first["level"], first["logger"], first["process"]) == (
        "INFO",
        "kiss.listener.runner",
        "listener",
    )
    assert first["message"] == "session welcomed\nsecond line"  # one line all the same
    assert str(first["time"]).endswith("+00:00")
    assert {line.get("slot") for line in lines} == {"conduit:C:shard:0", "conduit:C:shard:1", None}
    last = lines[2]
    assert (last["listener_id"], last["channel_id"], last["message_id"]) == (
        "host-1",
        "4242",
        "m-1",
    )
    assert "slot" not in last  # bound in the slot tasks, not in their parent


def test_json_logs_mask_secrets_in_messages_and_tracebacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", process="celery", log_format="json")
    try:
        raise RuntimeError("refresh failed for refresh_token=abcd1234efgh")
    except RuntimeError:
        logging.getLogger("kiss.auth").exception("Authorization: Bearer s3cr3tT0ken99 refused")
    err = capsys.readouterr().err
    (line,) = json_lines(err)
    assert "abcd1234efgh" not in err and "s3cr3tT0ken99" not in err
    assert "Traceback" in str(line["exception"]) and line["level"] == "ERROR"


def test_text_logs_stay_as_they_were(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", process="control")
    logging.getLogger("kiss.control").info("hello")
    err = capsys.readouterr().err
    assert err.rstrip().endswith("INFO    control kiss.control: hello")


def test_an_unknown_context_field_is_refused() -> None:
    from kiss.logs import bind

    with pytest.raises(ValueError, match="not a log context field: token"):
        bind(token="x")
