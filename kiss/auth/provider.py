"""Who a Helix call acts as, and the ``TokenProvider`` protocol that hands out its access token.

A ``Principal`` is the identity a request acts as: the app (client credentials) or one user.
It holds no secret, so it can be logged, compared and used as a rate-bucket key; ``resolve``
turns it into the access token of the moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from kiss.errors import TokenError


@dataclass(frozen=True, slots=True)
class Principal:
    """The app (``user_id`` None) or the user ``user_id``; printed as the token it acts with."""

    user_id: str | None = None

    @classmethod
    def app(cls) -> Principal:
        return cls(None)

    @classmethod
    def user(cls, user_id: str) -> Principal:
        if not user_id:
            raise TokenError("a user token needs a user id")
        return cls(user_id)

    @property
    def is_app(self) -> bool:
        return self.user_id is None

    def __str__(self) -> str:
        return "app token" if self.user_id is None else f"user token of {self.user_id}"


class TokenProvider(Protocol):
    def app_token(self) -> str: ...

    def user_token(self, user_id: str) -> str: ...

    def invalidate(self, token: str) -> None:
        """Twitch answered 401 with this access token: never hand it out again."""


def resolve(provider: TokenProvider, principal: Principal) -> str:
    """The access token ``principal`` acts with now."""
    if principal.user_id is None:
        return provider.app_token()
    return provider.user_token(principal.user_id)


@dataclass
class StaticTokenProvider:
    """Fixed tokens, for tests and demos; an invalidated token raises TokenError afterwards."""

    app: str = ""
    users: Mapping[str, str] = field(default_factory=dict)
    invalidated: set[str] = field(default_factory=set)

    def _checked(self, value: str, what: str) -> str:
        if not value:
            raise TokenError(f"no {what}")
        if value in self.invalidated:
            raise TokenError(f"the {what} was rejected by Twitch and cannot be refreshed")
        return value

    def app_token(self) -> str:
        return self._checked(self.app, "app token")

    def user_token(self, user_id: str) -> str:
        return self._checked(self.users.get(user_id, ""), f"user token for {user_id}")

    def invalidate(self, token: str) -> None:
        self.invalidated.add(token)
