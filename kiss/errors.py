"""Every error the hub raises on purpose, as one tree.

    KissError
    ├── ConfigError                 a setting has a bad value (names key and value)
    │   └── ForeignDatabase         database_url holds a schema that is not ours (v5, other)
    ├── RequestRefused              a bot's request the control plane will not record (says why)
    ├── StartupFailed               a process of the local run did not start
    ├── LockLost                    a lock's renewal failed: the work under it stops
    ├── ProtocolError               a frame from Twitch that breaks the EventSub protocol
    │   └── MalformedMessage        not JSON, or JSON not of the EventSub envelope shape
    ├── UnknownTopic                a subscription type/version the catalog does not know
    ├── InvalidCondition            a condition that misses or adds fields for its topic
    ├── HelixError                  an answer from Helix that is not a success
    │   ├── TransientHelixError     5xx, timeouts, rate limit: retry with backoff
    │   └── PermanentHelixError     other 4xx: recorded with Twitch's message, never retried
    │       └── QuotaExceeded       429 that is a quota (not a rate limit): a placement failure
    └── TokenError                  a token that is missing, invalid, or cannot be refreshed
        └── OAuthUnavailable        Twitch's OAuth service did not answer: retry later

Retryable errors carry ``retryable = True`` so callers decide by type, not by message.
``is_retryable`` is the one classification (hub errors by that flag; outside the tree, a
network or Redis failure is worth retrying, anything else is not) and ``retryable_types()``
the same as a tuple for ``except`` clauses and Celery's ``autoretry_for``. A retryable type's
subclasses are retryable too (tests/test_errors.py holds the tree to that).
"""

from __future__ import annotations

import re

import redis


class KissError(Exception):
    """Base of every error the hub raises on purpose."""

    retryable: bool = False


class ConfigError(KissError):
    """A configuration value is invalid."""


class ForeignDatabase(ConfigError):
    """The database at database_url holds another schema (the v5.0 kissbot.db, another
    project's): it is left untouched, and the message says what to do instead."""


class RequestRefused(KissError):
    """A request the control plane will not record; the message says why."""


class StartupFailed(KissError):
    """A process did not start: a one-shot step failed or a readiness check timed out."""


class LockLost(KissError):
    """A lock this process held was lost (its renewal failed): the work under it stops; the
    next holder carries on. Not retryable: retrying would race the new holder."""


class ProtocolError(KissError):
    """Twitch (or a peer) broke the EventSub protocol."""


class MalformedMessage(ProtocolError):
    """A frame that is not a well-formed EventSub message. ``kind`` names the problem in a word
    (``not_json``, ``too_deep``, ``bad_timestamp``...), for counting refusals by kind."""

    def __init__(self, message: str, kind: str = "malformed") -> None:
        super().__init__(message)
        self.kind = kind


class UnknownTopic(KissError):
    """A subscription type and version that the catalog does not know."""


class InvalidCondition(KissError):
    """A subscription condition that does not fit its topic."""


class HelixError(KissError):
    """A Helix answer that is not a success."""

    def __init__(self, status: int, message: str, *, method: str = "", path: str = "") -> None:
        self.status = status
        self.message = message
        self.method = method
        self.path = path
        where = f"{method} {path} " if method else ""
        super().__init__(f"{where}-> {status}: {message}")


class TransientHelixError(HelixError):
    """5xx, a timeout or a rate limit: worth retrying later."""

    retryable = True


class PermanentHelixError(HelixError):
    """A 4xx that will not change by retrying."""


class QuotaExceeded(PermanentHelixError):
    """A 429 that is a quota (transports, type+condition, cost), not a rate limit."""


class TokenError(KissError):
    """A token is missing, invalid, or cannot be refreshed."""


class OAuthUnavailable(TokenError):
    """Twitch's OAuth service could not answer (network, timeout, 5xx, 429): the token is not
    at fault, so nothing is marked invalid; try again later."""

    retryable = True


# Failures of the network or of Redis outside the tree: the peer may answer later.
TRANSIENT_IO: tuple[type[Exception], ...] = (OSError, redis.ConnectionError, redis.TimeoutError)


def is_retryable(error: BaseException) -> bool:
    """True when trying the same thing again later may succeed."""
    if isinstance(error, KissError):
        return error.retryable
    return isinstance(error, TRANSIENT_IO)


def _retryable_kiss_types(base: type[KissError]) -> list[type[KissError]]:
    found: list[type[KissError]] = []
    for sub in base.__subclasses__():
        found.extend([sub] if sub.retryable else _retryable_kiss_types(sub))
    return found


def retryable_types() -> tuple[type[Exception], ...]:
    """The exception types ``is_retryable`` says yes to (the tree's as defined by now)."""
    return (*_retryable_kiss_types(KissError), *TRANSIENT_IO)


_OS_REASON = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


def unreachable(url: str, error: BaseException) -> str:
    """``cannot reach <url> (<reason>)`` for a failed connection, credentials masked.

    The reason is the operating system's words when the error carries them (``Connection
    refused``, ``Name or service not known``), else the error's type (``ReadTimeout``).
    """
    from kiss.logs import redact

    found = _OS_REASON.search(str(error))
    reason = found.group(1).strip() if found else type(error).__name__
    return f"cannot reach {redact(url)} ({reason})"
