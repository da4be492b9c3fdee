"""kiss/errors.py: one classification of retryable errors, by type."""

from __future__ import annotations

import pytest
import redis

from kiss import errors
from kiss.client import errors as client_errors  # noqa: F401  (its branch joins the tree)


def _tree(base: type[errors.KissError]) -> list[type[errors.KissError]]:
    return [base, *(t for sub in base.__subclasses__() for t in _tree(sub))]


@pytest.mark.parametrize("kind", _tree(errors.KissError), ids=lambda t: t.__name__)
def test_one_classification_for_every_type_of_the_tree(kind: type[errors.KissError]) -> None:
    error = kind.__new__(kind)
    assert errors.is_retryable(error) is kind.retryable
    assert isinstance(error, errors.retryable_types()) is kind.retryable
    if kind.retryable:  # a retryable type's subclasses are retryable too
        assert all(sub.retryable for sub in _tree(kind))


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        (errors.OAuthUnavailable("id.twitch.tv did not answer"), True),
        (errors.TokenError("refresh refused"), False),
        (errors.TransientHelixError(503, "busy"), True),
        (errors.QuotaExceeded(429, "cost"), False),
        (errors.RequestRefused("no"), False),
        (errors.StartupFailed("no"), False),
        (redis.ConnectionError("down"), True),
        (redis.TimeoutError(), True),
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (redis.ResponseError("WRONGTYPE"), False),
        (ValueError("bug"), False),
    ],
)
def test_what_is_retried(error: BaseException, retryable: bool) -> None:
    assert errors.is_retryable(error) is retryable
    assert isinstance(error, errors.retryable_types()) is retryable


def test_the_celery_tasks_retry_what_the_tree_calls_retryable() -> None:
    from workers.tasks import RETRY

    retried = RETRY["autoretry_for"]
    assert isinstance(retried, tuple)
    assert set(retried) == set(errors.retryable_types())
    assert issubclass(errors.OAuthUnavailable, retried)


def test_unreachable_names_the_url_and_the_reason_without_credentials() -> None:
    import requests

    from kiss.errors import unreachable

    try:
        requests.get("http://127.0.0.1:1/oauth2/device", timeout=2)
    except requests.RequestException as error:
        text = unreachable("http://user:hunter2@127.0.0.1:1/oauth2/device", error)
    else:  # pragma: no cover - nothing listens on port 1
        raise AssertionError("port 1 answered")
    assert text == "cannot reach http://user:***@127.0.0.1:1/oauth2/device (Connection refused)"
    assert (
        unreachable("http://h/x", TimeoutError("slow")) == "cannot reach http://h/x (TimeoutError)"
    )
