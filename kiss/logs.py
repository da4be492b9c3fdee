"""Logging for every hub process: one readable line per record, secrets masked.

Tokens must never reach a log line, even through an exception message or a URL that a
library logs, so the mask works on the formatted text of every record.
"""

from __future__ import annotations

import logging
import re
import sys

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


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(level: str = "INFO", process: str = "kiss") -> None:
    """Set up the root logger of a hub process (idempotent)."""
    handler = logging.StreamHandler(sys.stderr)
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
