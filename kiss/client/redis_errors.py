"""Which Redis failures mean "reconnect and carry on" (redis-py's own types, not builtins)."""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

# Raised while Redis is down, restarting (LOADING) or unreachable.
TRANSIENT: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError)


def is_transient(error: BaseException) -> bool:
    # redis-py raises BusyLoadingError (a ConnectionError) while a restarted Redis loads.
    return isinstance(error, TRANSIENT)


def is_missing_group(error: BaseException) -> bool:
    """Redis lost the stream or the group (a restart without persistence): create it again."""
    return isinstance(error, ResponseError) and str(error).startswith("NOGROUP")


def is_group_exists(error: BaseException) -> bool:
    return isinstance(error, ResponseError) and str(error).startswith("BUSYGROUP")
