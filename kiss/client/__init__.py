"""The bot library: a channel's events from the hub, over Redis streams (asyncio).

Importable without Celery or SQLAlchemy: a bot process needs only redis, orjson and
msgspec (which decodes the typed events of ``kiss.client.typed``).
"""

from kiss.client.client import HubEventSubClient, PendingSubscription
from kiss.client.connection import HubConnection
from kiss.client.errors import (
    ClientError,
    ControlPlaneTimeout,
    MalformedEntry,
    OutcomeTimeout,
    SubscriptionRejected,
)
from kiss.client.events import (
    ChannelEvent,
    Gap,
    GapEvent,
    Notification,
    NotificationEvent,
    Revocation,
    RevocationEvent,
    parse_entry,
)
from kiss.client.options import ClientOptions
from kiss.client.replay import StartPosition
from kiss.client.requests import SubscriptionOutcome
from kiss.client.runner import run
from kiss.client.typed import *  # noqa: F403  (the typed event classes: typed.__all__)
from kiss.client.typed import __all__ as _typed_names

__all__ = [
    "ChannelEvent",
    "ClientError",
    "ClientOptions",
    "ControlPlaneTimeout",
    "Gap",  # the old name of GapEvent
    "GapEvent",
    "HubConnection",
    "HubEventSubClient",
    "MalformedEntry",
    "Notification",  # the old name of NotificationEvent
    "NotificationEvent",
    "OutcomeTimeout",
    "PendingSubscription",
    "Revocation",  # the old name of RevocationEvent
    "RevocationEvent",
    "StartPosition",
    "SubscriptionOutcome",
    "SubscriptionRejected",
    "parse_entry",
    "run",
    *_typed_names,
]
