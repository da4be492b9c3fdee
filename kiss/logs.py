"""Logging for every hub process: one line per record, readable text or JSON, secrets masked.

Tokens must never reach a log line, even through an exception message or a URL that a
library logs, so the mask works on the formatted text of every record (and on every field
of a JSON line).

``log_format: json`` writes one JSON object per line: ``time``, ``level``, ``logger``,
``message``, ``process`` (the hub process: listener, celery, control, bot-<channel>), ``pid``,
and where they apply ``listener_id``, ``slot`` (a conduit shard or websocket session),
``channel_id`` and ``message_id``, taken from the record's ``extra`` or from the context that
``bind`` set for the current task (the listener binds its id once, each slot its name).
"""

from __future__ import annotations

import contextvars
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Literal

import orjson

LogFormat = Literal["text", "json"]
# The fields a JSON line carries when the record or the current context has them.
CONTEXT_FIELDS = ("listener_id", "slot", "channel_id", "message_id")
_NO_CONTEXT: Mapping[str, str] = MappingProxyType({})
_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "kiss_log_context", default=_NO_CONTEXT
)

_SECRET_PATTERNS = (
    # Authorization headers: "Bearer abc", "OAuth abc"
    re.compile(r"(?i)\b(bearer|oauth)\s+[A-Za-z0-9._~+/=-]{6,}"),
    # key=value and "key": "value" forms of secret fields (form bodies, JSON, query strings)
    re.compile(
        r"(?i)(\"?(?:access_token|refresh_token|client_secret|device_code|password|secret"
        r"|token)\"?\s*[=:]\s*\"?)[^\"&\s,}]{4,}"
    ),
    # credentials inside URLs: redis://:password@host, postgresql://user:password@host
    re.compile(r"(://[^:/@\s]*:)[^@\s]{1,}(@)"),
)
MASK = "***"


def redact(text: str) -> str:
    """The text with every token-like secret replaced by ***."""
    text = _SECRET_PATTERNS[0].sub(lambda match: f"{match.group(1)} {MASK}", text)
    text = _SECRET_PATTERNS[1].sub(lambda match: f"{match.group(1)}{MASK}", text)
    return _SECRET_PATTERNS[2].sub(lambda match: f"{match.group(1)}{MASK}{match.group(2)}", text)


def bind(**fields: str) -> contextvars.Token[Mapping[str, str]]:
    """Add fields (of ``CONTEXT_FIELDS``) to the log lines of this task and the tasks it starts."""
    unknown = set(fields) - set(CONTEXT_FIELDS)
    if unknown:
        raise ValueError(f"not a log context field: {', '.join(sorted(unknown))}")
    return _context.set({**_context.get(), **fields})


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(RedactingFormatter):
    """One JSON object per record, on one line (a traceback is one field, newlines escaped)."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "process": self.process,
            "pid": record.process,
        }
        context = _context.get()
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None) or context.get(name)
            if value:
                document[name] = redact(str(value))
        if record.exc_info:
            document["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            document["exception"] = redact(record.exc_text)
        return orjson.dumps(document).decode()


def configure_logging(
    level: str = "INFO", process: str = "kiss", log_format: LogFormat = "text"
) -> None:
    """Set up the root logger of a hub process (idempotent), as text lines or JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter(process))
    else:
        handler.setFormatter(
            RedactingFormatter(f"%(asctime)s %(levelname)-7s {process} %(name)s: %(message)s")
        )
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing.formatter, RedactingFormatter):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
    # urllib3 logs full URLs at DEBUG; websockets logs frames at DEBUG.
    for noisy in ("urllib3", "websockets", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, root.level))
