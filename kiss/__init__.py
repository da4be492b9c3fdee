"""Kiss EventSub Hub: one EventSub connection pool for many Twitch bots."""

__version__ = "0.1.0"
