"""Errors of the bot client, a branch of the hub's tree (kiss/errors.py).

    KissError
    └── ClientError                 the bot client could not do what was asked
        ├── MalformedEntry          a stream entry that breaks the listener's contract
        ├── SubscriptionRejected    the control plane refused a subscribe/unsubscribe (reason given)
        ├── ControlPlaneTimeout     no answer from workers/control.py in time (retryable)
        └── OutcomeTimeout          no subscription outcome in time (retryable)

Bad topics and conditions are caught before any I/O and raise the tree's own
``UnknownTopic`` / ``InvalidCondition``.
"""

from __future__ import annotations

from kiss.errors import KissError


class ClientError(KissError):
    """The bot client could not do what was asked."""


class MalformedEntry(ClientError):
    """A stream entry that does not follow the listener's field contract."""


class SubscriptionRejected(ClientError):
    """The control plane refused a request; the message is its reason."""


class ControlPlaneTimeout(ClientError):
    """workers/control.py did not answer in time (is `kiss control` running?)."""

    retryable = True


class OutcomeTimeout(ClientError):
    """No outcome for a subscription arrived in time (is the Celery worker running?)."""

    retryable = True
