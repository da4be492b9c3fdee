"""OAuth routes on Twitch's paths: ``/oauth2/validate``, ``/oauth2/token``, ``/oauth2/device``.

Also ``/oauth2/revoke`` and ``/activate`` (where a person approves a device code).
``expires_in`` is in real seconds (scaled by ``time_unit``), so clients refresh on time.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from aiohttp import web

from kiss.simulator.adapters.dispatcher import Dispatcher
from kiss.simulator.adapters.responses import json_response, problem_response
from kiss.simulator.twitch.identity import Token
from kiss.simulator.twitch.problems import TwitchProblem, bad_request
from kiss.simulator.twitch.world import SimulatorState

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _scaled(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 3)


class OAuthApi:
    def __init__(self, state: SimulatorState, dispatcher: Dispatcher) -> None:
        self.state = state
        self.dispatcher = dispatcher

    def routes(self, prefix: str) -> list[web.RouteDef]:
        return [
            web.get(f"{prefix}/validate", self.validate, allow_head=False),
            web.post(f"{prefix}/token", self.token),
            web.post(f"{prefix}/device", self.device),
            web.post(f"{prefix}/revoke", self.revoke),
            web.get(f"{prefix}/authorize", self.authorize, allow_head=False),
        ]

    @property
    def lifetime(self) -> float:
        return self.state.seconds(self.state.config.token_lifetime)

    async def _params(self, request: web.Request) -> Mapping[str, str]:
        """Twitch takes these as a form body or as query parameters."""
        form = await request.post()
        merged = {key: value for key, value in request.query.items()}
        merged.update({key: value for key, value in form.items() if isinstance(value, str)})
        return merged

    def _issued(self, token: Token, now: float) -> web.Response:
        body: dict[str, object] = {
            "access_token": token.access_token,
            "expires_in": token.expires_in(now),
            "token_type": "bearer",
        }
        if not token.is_app:
            body["refresh_token"] = token.refresh_token
            body["scope"] = sorted(token.scopes)
        return json_response(body)

    async def validate(self, request: web.Request) -> web.Response:
        now = self.dispatcher.clock()
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        try:
            if scheme.lower() not in ("oauth", "bearer") or not value.strip():
                raise TwitchProblem(401, "missing authorization token")
            token = self.state.identity.validate(value.strip(), now)
        except TwitchProblem as problem:
            return json_response({"status": 401, "message": problem.message}, 401)
        body: dict[str, object] = {
            "client_id": token.client_id,
            "scopes": sorted(token.scopes),
            "expires_in": token.expires_in(now),
        }
        if token.user_id is not None:
            body["login"] = self.state.identity.ensure_user(token.user_id).login
            body["user_id"] = token.user_id
        return json_response(body)

    async def token(self, request: web.Request) -> web.Response:
        now = self.dispatcher.clock()
        params = await self._params(request)
        identity = self.state.identity
        grant = params.get("grant_type", "")
        client_id = params.get("client_id", "")
        try:
            if grant == "client_credentials":
                token = identity.client_credentials(
                    client_id, params.get("client_secret", ""), self.lifetime, now
                )
            elif grant == "refresh_token":
                token = identity.refresh(
                    client_id,
                    params.get("client_secret"),
                    params.get("refresh_token", ""),
                    self.lifetime,
                    now,
                )
            elif grant == "authorization_code":
                token = identity.redeem_code(
                    client_id,
                    params.get("client_secret", ""),
                    params.get("code", ""),
                    params.get("redirect_uri", ""),
                    self.lifetime,
                    now,
                )
            elif grant == DEVICE_GRANT:
                token = identity.poll_device(
                    client_id, params.get("device_code", ""), self.lifetime, now
                )
            else:
                raise bad_request(f"unsupported grant_type {grant!r}")
        except TwitchProblem as problem:
            return json_response(
                {"status": problem.status, "message": problem.message}, problem.status
            )
        return self._issued(token, now)

    async def device(self, request: web.Request) -> web.Response:
        now = self.dispatcher.clock()
        params = await self._params(request)
        config = self.state.config
        try:
            code = self.state.identity.start_device(
                params.get("client_id", ""),
                params.get("scopes", params.get("scope", "")).split(),
                self.state.seconds(config.device_code_lifetime),
                now,
            )
        except TwitchProblem as problem:
            return json_response(
                {"status": problem.status, "message": problem.message}, problem.status
            )
        base = f"{request.scheme}://{request.host}"
        return json_response(
            {
                "device_code": code.device_code,
                "expires_in": int(self.state.seconds(config.device_code_lifetime)),
                "interval": _scaled(self.state.seconds(config.device_poll_interval)),
                "user_code": code.user_code,
                "verification_uri": f"{base}/activate?device-code={code.user_code}",
            }
        )

    async def authorize(self, request: web.Request) -> web.Response:
        """GET /oauth2/authorize: the user approves at once and is sent back to redirect_uri.

        ``login=`` or ``user_id=`` picks the user (default: a demo user ``kissdemo``);
        ``response_type=code`` gives a code for /oauth2/token, ``token`` a token in the fragment.
        """
        query = request.query
        identity = self.state.identity
        now = self.dispatcher.clock()
        redirect_uri = query.get("redirect_uri", "")
        try:
            if not redirect_uri:
                raise bad_request("missing redirect_uri")
            user_id = (
                query.get("user_id") or identity.add_user(query.get("login", "kissdemo")).user_id
            )
            scopes = query.get("scope", "").split()
            client_id = query.get("client_id", "")
            if query.get("response_type") == "token":
                identity.client(client_id)
                token = identity.mint(client_id, user_id, scopes, self.lifetime, now)
                fragment = urlencode(
                    {
                        "access_token": token.access_token,
                        "scope": " ".join(sorted(token.scopes)),
                        "state": query.get("state", ""),
                        "token_type": "bearer",
                    }
                )
                raise web.HTTPFound(f"{redirect_uri}#{fragment}")
            if query.get("response_type") != "code":
                raise bad_request("response_type must be code or token")
            code = identity.grant_code(client_id, user_id, scopes, redirect_uri, self.lifetime, now)
        except TwitchProblem as problem:
            return problem_response(problem)
        answer = {
            "code": code.code,
            "scope": " ".join(sorted(code.scopes)),
            "state": query.get("state", ""),
        }
        raise web.HTTPFound(
            f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{urlencode(answer)}"
        )

    async def revoke(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        token = self.state.identity.tokens.get(params.get("token", ""))
        if token is None or token.client_id != params.get("client_id"):
            return json_response({"status": 400, "message": "Invalid token"}, 400)
        self.state.identity.expire(token.access_token)
        return web.Response(status=200)

    async def activate(self, request: web.Request) -> web.Response:
        """GET /activate?device-code=CODE[&login=NAME|&user_id=ID]: approve a device code."""
        identity = self.state.identity
        user_code = request.query.get("device-code") or request.query.get("user_code", "")
        user_id = request.query.get("user_id")
        try:
            if user_id is None:
                user_id = identity.add_user(request.query.get("login", "kissdemo")).user_id
            identity.approve_device(user_code, user_id)
        except TwitchProblem as problem:
            return problem_response(problem)
        return web.Response(text=f"device code {user_code} approved for user {user_id}\n")
