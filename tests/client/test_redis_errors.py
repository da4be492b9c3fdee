from __future__ import annotations

from redis.exceptions import BusyLoadingError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from kiss.client.redis_errors import is_group_exists, is_missing_group, is_transient


def test_redis_py_failures_are_transient_but_not_the_builtins() -> None:
    assert is_transient(RedisConnectionError("refused"))
    assert is_transient(RedisTimeoutError("slow"))
    assert is_transient(BusyLoadingError("LOADING"))
    assert not is_transient(ConnectionError("the builtin"))  # redis-py never raises it
    assert not is_transient(ResponseError("WRONGTYPE"))


def test_group_answers() -> None:
    assert is_missing_group(ResponseError("NOGROUP No such key 's' or consumer group 'g'"))
    assert is_group_exists(ResponseError("BUSYGROUP Consumer Group name already exists"))
    assert not is_missing_group(ResponseError("BUSYGROUP ..."))
