from __future__ import annotations

import pytest
from websockets.exceptions import InvalidMessage, InvalidURI

from kiss.errors import OAuthUnavailable, TokenError
from kiss.listener.backoff import Backoff, is_fatal, reconnecting


def test_delays_double_up_to_the_maximum_with_jitter() -> None:
    high = Backoff(2.0, 60.0, rng=lambda: 1.0)
    assert [high.next_delay() for _ in range(7)] == [2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    low = Backoff(2.0, 60.0, rng=lambda: 0.0)
    assert [low.next_delay() for _ in range(3)] == [1.0, 2.0, 4.0]


def test_reset_after_a_welcome_starts_over() -> None:
    backoff = Backoff(1.0, 10.0, rng=lambda: 1.0)
    backoff.next_delay()
    backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 1.0


def test_bad_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="base <= maximum"):
        Backoff(5.0, 1.0)


def test_fatal_errors_are_the_unfixable_ones() -> None:
    assert is_fatal(InvalidURI("nope", "bad"))
    assert not is_fatal(OSError("refused"))
    assert not is_fatal(TimeoutError())
    assert not is_fatal(InvalidMessage("the peer closed during the handshake"))
    # The tree's own classification (kiss.errors.is_retryable), as the Celery tasks use it.
    assert not is_fatal(OAuthUnavailable("id.twitch.tv did not answer"))
    assert is_fatal(TokenError("refresh refused"))
    assert is_fatal(ValueError("a bug"))


async def test_reconnecting_retries_failures_with_the_policy_delays() -> None:
    slept: list[float] = []
    attempts: list[str | OSError] = [OSError("a"), OSError("b"), "socket-1", "socket-2"]

    async def connect() -> str:
        outcome = attempts.pop(0)
        if isinstance(outcome, OSError):
            raise outcome
        return outcome

    async def sleep(delay: float) -> None:
        slept.append(delay)

    backoff = Backoff(1.0, 8.0, rng=lambda: 1.0)
    got = []
    async for connection in reconnecting(connect, backoff, sleep=sleep):
        got.append(connection)
        if connection == "socket-1":
            backoff.reset()  # as after a welcome
        if len(got) == 2:
            break
    assert got == ["socket-1", "socket-2"]
    assert slept == [1.0, 2.0, 1.0]


async def test_reconnecting_gives_up_on_a_fatal_error() -> None:
    async def connect() -> str:
        raise InvalidURI("x", "not a websocket URI")

    with pytest.raises(InvalidURI):
        async for _ in reconnecting(connect, Backoff(1.0, 2.0)):
            pass


async def test_reconnecting_ends_when_stopped() -> None:
    stop = [False]

    async def connect() -> str:
        raise OSError("refused")

    async def sleep(delay: float) -> None:
        stop[0] = True

    got = [
        c
        async for c in reconnecting(
            connect, Backoff(1.0, 2.0), sleep=sleep, stopped=lambda: stop[0]
        )
    ]
    assert got == []
