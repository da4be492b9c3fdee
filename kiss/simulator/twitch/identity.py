"""Clients, users, tokens and authorizations: the OAuth side of the simulator, with no I/O.

Time (``now``, epoch seconds) is an argument; lifetimes arrive already scaled to real seconds.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

from kiss.simulator.twitch.problems import TwitchProblem, bad_request, unauthorized


@dataclass
class Client:
    client_id: str
    client_secret: str


@dataclass
class User:
    user_id: str
    login: str


@dataclass
class Token:
    access_token: str
    client_id: str
    user_id: str | None  # None: an app access token
    scopes: frozenset[str]
    expires_at: float
    refresh_token: str | None = None
    # The Twitch CLI mock's paths take a bare Client-Id: such a token passes scope checks.
    unchecked: bool = False

    @property
    def is_app(self) -> bool:
        return self.user_id is None

    def expires_in(self, now: float) -> int:
        return max(0, int(self.expires_at - now))


@dataclass
class DeviceCode:
    device_code: str
    user_code: str
    client_id: str
    scopes: frozenset[str]
    expires_at: float
    approved_user: str | None = None


def _token() -> str:
    # Twitch tokens are 30 lowercase alphanumerics.
    return secrets.token_hex(15)


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    user_id: str
    scopes: frozenset[str]
    redirect_uri: str
    expires_at: float


@dataclass
class Identity:
    clients: dict[str, Client] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    refresh_tokens: dict[str, Token] = field(default_factory=dict)
    # (client_id, user_id) -> scopes the user granted the client
    authorizations: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    device_codes: dict[str, DeviceCode] = field(default_factory=dict)
    authorization_codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    _next_user: int = 100_000

    # -- registry ---------------------------------------------------------------
    def add_client(self, client_id: str | None = None, client_secret: str | None = None) -> Client:
        client = Client(client_id or _token(), client_secret or _token())
        self.clients[client.client_id] = client
        return client

    def add_user(self, login: str, user_id: str | None = None) -> User:
        if not login:
            raise bad_request("login is required")
        if user_id is None:
            existing = self.user_by_login(login)
            if existing is not None:
                return existing
            while str(self._next_user) in self.users:
                self._next_user += 1
            user_id = str(self._next_user)
        user = User(user_id, login.lower())
        self.users[user_id] = user
        return user

    def user_by_login(self, login: str) -> User | None:
        return next((u for u in self.users.values() if u.login == login.lower()), None)

    def ensure_user(self, user_id: str) -> User:
        user = self.users.get(user_id)
        if user is None:
            user = self.users[user_id] = User(user_id, f"user{user_id}")
        return user

    def client(self, client_id: str) -> Client:
        client = self.clients.get(client_id)
        if client is None:
            raise bad_request(f"invalid client: {client_id!r} is not registered")
        return client

    def authorize(self, client_id: str, user_id: str, scopes: Iterable[str]) -> None:
        self.client(client_id)
        self.ensure_user(user_id)
        key = (client_id, user_id)
        self.authorizations[key] = self.authorizations.get(key, frozenset()) | frozenset(scopes)

    def has_authorized(self, client_id: str, user_id: str) -> bool:
        return (client_id, user_id) in self.authorizations

    def granted(self, client_id: str, user_id: str) -> frozenset[str]:
        return self.authorizations.get((client_id, user_id), frozenset())

    # -- tokens -----------------------------------------------------------------
    def mint(
        self,
        client_id: str,
        user_id: str | None,
        scopes: Iterable[str],
        lifetime: float,
        now: float,
    ) -> Token:
        """A new token; a user token records that the user authorized the client."""
        self.client(client_id)
        scope_set = frozenset(scopes)
        refresh = None
        if user_id is not None:
            self.ensure_user(user_id)
            self.authorize(client_id, user_id, scope_set)
            refresh = secrets.token_hex(25)
        token = Token(_token(), client_id, user_id, scope_set, now + lifetime, refresh)
        self.tokens[token.access_token] = token
        if refresh is not None:
            self.refresh_tokens[refresh] = token
        return token

    def validate(self, access_token: str, now: float) -> Token:
        """The live token, or a 401 (unknown, expired or revoked)."""
        token = self.tokens.get(access_token)
        if token is None or token.expires_at <= now:
            raise TwitchProblem(401, "invalid access token")
        return token

    def expire(self, access_token: str) -> Token:
        token = self.tokens.get(access_token)
        if token is None:
            raise bad_request("unknown access_token")
        token.expires_at = 0.0
        return token

    def _authenticate_client(self, client_id: str, client_secret: str | None) -> Client:
        client = self.clients.get(client_id)
        if client is None:
            raise bad_request("invalid client")
        if client_secret is not None and not secrets.compare_digest(
            client.client_secret, client_secret
        ):
            raise TwitchProblem(403, "invalid client secret")
        return client

    def client_credentials(
        self, client_id: str, client_secret: str, lifetime: float, now: float
    ) -> Token:
        if not client_secret:
            raise bad_request("missing client secret")
        self._authenticate_client(client_id, client_secret)
        return self.mint(client_id, None, (), lifetime, now)

    def refresh(
        self,
        client_id: str,
        client_secret: str | None,
        refresh_token: str,
        lifetime: float,
        now: float,
    ) -> Token:
        """A new access token and a new refresh token; the old refresh token stops working."""
        self._authenticate_client(client_id, client_secret)
        old = self.refresh_tokens.pop(refresh_token, None)
        if old is None or old.client_id != client_id or old.user_id is None:
            raise bad_request("Invalid refresh token")
        return self.mint(client_id, old.user_id, old.scopes, lifetime, now)

    # -- device code grant ------------------------------------------------------
    def start_device(
        self, client_id: str, scopes: Iterable[str], lifetime: float, now: float
    ) -> DeviceCode:
        self._authenticate_client(client_id, None)
        code = DeviceCode(
            device_code=secrets.token_urlsafe(30),
            user_code=secrets.token_hex(4).upper(),
            client_id=client_id,
            scopes=frozenset(scopes),
            expires_at=now + lifetime,
        )
        self.device_codes[code.device_code] = code
        return code

    def approve_device(self, user_code: str, user_id: str) -> DeviceCode:
        code = next((c for c in self.device_codes.values() if c.user_code == user_code), None)
        if code is None:
            raise bad_request(f"unknown user_code {user_code!r}")
        self.ensure_user(user_id)
        code.approved_user = user_id
        return code

    def poll_device(self, client_id: str, device_code: str, lifetime: float, now: float) -> Token:
        code = self.device_codes.get(device_code)
        if code is None or code.client_id != client_id:
            raise bad_request("invalid device code")
        if code.expires_at <= now:
            del self.device_codes[device_code]
            raise bad_request("expired_token")
        if code.approved_user is None:
            raise bad_request("authorization_pending")
        del self.device_codes[device_code]
        return self.mint(client_id, code.approved_user, code.scopes, lifetime, now)

    # -- authorization code grant ----------------------------------------------
    def grant_code(
        self,
        client_id: str,
        user_id: str,
        scopes: Iterable[str],
        redirect_uri: str,
        lifetime: float,
        now: float,
    ) -> AuthorizationCode:
        """The user approved the client (the simulator approves at once): a one-time code."""
        self._authenticate_client(client_id, None)
        if not redirect_uri:
            raise bad_request("missing redirect_uri")
        self.ensure_user(user_id)
        code = AuthorizationCode(
            secrets.token_hex(15),
            client_id,
            user_id,
            frozenset(scopes),
            redirect_uri,
            now + lifetime,
        )
        self.authorization_codes[code.code] = code
        return code

    def redeem_code(
        self,
        client_id: str,
        client_secret: str,
        code: str,
        redirect_uri: str,
        lifetime: float,
        now: float,
    ) -> Token:
        self._authenticate_client(client_id, client_secret)
        granted = self.authorization_codes.pop(code, None)
        if granted is None or granted.client_id != client_id or granted.expires_at <= now:
            raise bad_request("Invalid authorization code")
        if redirect_uri != granted.redirect_uri:
            raise bad_request("Parameter redirect_uri does not match registered URI")
        return self.mint(client_id, granted.user_id, granted.scopes, lifetime, now)

    def bearer(self, authorization: str | None, client_id: str | None, now: float) -> Token:
        """The token of a Helix request's headers, or Twitch's 401."""
        if not authorization:
            raise unauthorized("OAuth token is missing")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not value.strip():
            raise unauthorized("Invalid OAuth token")
        try:
            token = self.validate(value.strip(), now)
        except TwitchProblem:
            raise unauthorized("Invalid OAuth token") from None
        if not client_id:
            raise unauthorized("Client ID is missing")
        if client_id != token.client_id:
            raise unauthorized("Client ID and OAuth token do not match")
        return token
