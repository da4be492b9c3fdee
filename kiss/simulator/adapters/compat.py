"""The Twitch CLI mock's paths, so that tools written for ``twitch event websocket`` and
``twitch mock-api`` work here too: ``/eventsub/subscriptions``, ``/mock/...``, ``/auth/...``.

The CLI's websocket server takes subscriptions with only a ``Client-Id`` header; here a
request without ``Authorization`` gets a user token of a mock user that passes scope checks,
and every other rule (limits, duplicates, 410s) stays Twitch's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from kiss.eventsub import catalog
from kiss.simulator.adapters.helix import Action, HelixApi
from kiss.simulator.adapters.oauth import OAuthApi
from kiss.simulator.adapters.responses import json_response, problem_response
from kiss.simulator.config import DEMO_CLIENT_ID
from kiss.simulator.twitch.identity import Token
from kiss.simulator.twitch.problems import TwitchProblem
from kiss.simulator.twitch.world import SimulatorState

MOCK_USER_ID = "0"  # the CLI mock's default user


class MockApi:
    def __init__(self, state: SimulatorState, helix: HelixApi, oauth: OAuthApi) -> None:
        self.state = state
        self.helix = helix
        self.oauth = oauth

    def routes(self) -> list[web.RouteDef]:
        subs = "/eventsub/subscriptions"
        return [
            web.post(subs, self._lenient(self.helix.create_subscription)),
            web.get(subs, self._lenient(self.helix.list_subscriptions), allow_head=False),
            web.delete(subs, self._lenient(self.helix.delete_subscription)),
            *self.helix.routes("/mock"),
            *self.oauth.routes("/auth"),
            web.post("/auth/authorize", self.authorize),
        ]

    def _mock_token(self, client_id: str) -> Token:
        if client_id not in self.state.identity.clients:
            self.state.identity.add_client(client_id)
        self.state.identity.ensure_user(MOCK_USER_ID)
        scopes = frozenset().union(*(topic.any_scope for topic in catalog.TOPICS))
        return Token("", client_id, MOCK_USER_ID, scopes, float("inf"), unchecked=True)

    def _lenient(self, action: Action) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            if request.headers.get("Authorization"):
                return await self.helix.call(request, action)
            token = self._mock_token(request.headers.get("Client-Id") or DEMO_CLIENT_ID)
            now = self.helix.dispatcher.clock()
            try:
                status, data = await action(request, token, now)
            except TwitchProblem as problem:
                return problem_response(problem)
            if data is None:
                return web.Response(status=status)
            return json_response(data, status)

        return handle

    async def authorize(self, request: web.Request) -> web.Response:
        """POST /auth/authorize?grant_type=user_token&user_id=&scope=&client_id=&client_secret="""
        params = {
            **request.query,
            **{k: v for k, v in (await request.post()).items() if isinstance(v, str)},
        }
        identity = self.state.identity
        now = self.helix.dispatcher.clock()
        try:
            client = identity.client(params.get("client_id", ""))
            if params.get("client_secret") != client.client_secret:
                raise TwitchProblem(403, "invalid client secret")
            user_id = params.get("user_id") or MOCK_USER_ID
            token = identity.mint(
                client.client_id,
                user_id,
                params.get("scope", "").split(),
                self.state.seconds(self.state.config.token_lifetime),
                now,
            )
        except TwitchProblem as problem:
            return json_response(
                {"status": problem.status, "message": problem.message}, problem.status
            )
        return json_response(
            {
                "access_token": token.access_token,
                "refresh_token": token.refresh_token,
                "expires_in": token.expires_in(now),
                "scope": sorted(token.scopes),
                "token_type": "bearer",
            }
        )
