"""Helix routes: EventSub subscriptions, conduits and shards, users; rate limited per token.

Every answer carries ``Ratelimit-Limit``, ``Ratelimit-Remaining`` and ``Ratelimit-Reset``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kiss.simulator.adapters.dispatcher import Dispatcher
from kiss.simulator.adapters.responses import json_body, json_response, problem_response
from kiss.simulator.twitch import conduits, subscriptions
from kiss.simulator.twitch.identity import Token
from kiss.simulator.twitch.problems import TwitchProblem, bad_request
from kiss.simulator.twitch.ratelimit import RateLimiter, bucket_key
from kiss.simulator.twitch.world import SimulatorState

Action = Callable[[web.Request, Token, float], Awaitable[tuple[int, Any]]]


async def _conduit_parameters(request: web.Request) -> Any:
    """Conduit calls take their parameters in the JSON body or the query string."""
    body = await json_body(request, required=not request.query)
    return conduits.parameters(request.query, body)


class HelixApi:
    def __init__(self, state: SimulatorState, limiter: RateLimiter, dispatcher: Dispatcher) -> None:
        self.state = state
        self.limiter = limiter
        self.dispatcher = dispatcher

    def routes(self, prefix: str) -> list[web.RouteDef]:
        subs, cond, shards = (
            f"{prefix}/eventsub/subscriptions",
            f"{prefix}/eventsub/conduits",
            f"{prefix}/eventsub/conduits/shards",
        )
        return [
            web.post(subs, self._handler(self.create_subscription)),
            web.get(subs, self._handler(self.list_subscriptions), allow_head=False),
            web.delete(subs, self._handler(self.delete_subscription)),
            web.post(cond, self._handler(self._create_conduit)),
            web.get(cond, self._handler(self._list_conduits), allow_head=False),
            web.patch(cond, self._handler(self._update_conduit)),
            web.delete(cond, self._handler(self._delete_conduit)),
            web.get(shards, self._handler(self._list_shards), allow_head=False),
            web.patch(shards, self._handler(self._update_shards)),
            web.get(f"{prefix}/users", self._handler(self._users), allow_head=False),
        ]

    def _handler(self, action: Action) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            return await self.call(request, action)

        return handle

    async def call(self, request: web.Request, action: Action) -> web.Response:
        """Authenticate, spend a rate-limit point, run the action, answer with the headers."""
        now = self.dispatcher.clock()
        self.state.stats.helix_requests += 1
        client_id = request.headers.get("Client-Id")
        try:
            token = self.state.identity.bearer(request.headers.get("Authorization"), client_id, now)
        except TwitchProblem as problem:
            anonymous = self.limiter.take(f"anonymous:{client_id}", now)
            return problem_response(problem, anonymous.headers())
        verdict = self.limiter.take(bucket_key(token), now)
        if not verdict.allowed:
            self.state.stats.rate_limited += 1
            return problem_response(TwitchProblem(429, "Too Many Requests"), verdict.headers())
        try:
            status, data = await action(request, token, now)
        except TwitchProblem as problem:
            return problem_response(problem, verdict.headers())
        if data is None:
            return web.Response(status=status, headers=verdict.headers())
        return json_response(data, status, verdict.headers())

    async def create_subscription(
        self, request: web.Request, token: Token, now: float
    ) -> tuple[int, Any]:
        created = subscriptions.create(self.state, token, await json_body(request), now)
        sub = self.state.subscriptions[created["data"][0]["id"]]
        if sub.method == "webhook" and self.dispatcher.webhooks is not None:
            self.dispatcher.spawn(self.dispatcher.webhooks.verify(sub))
        return 202, created

    async def list_subscriptions(
        self, request: web.Request, token: Token, now: float
    ) -> tuple[int, Any]:
        return 200, subscriptions.listing(self.state, token, request.query)

    async def delete_subscription(
        self, request: web.Request, token: Token, now: float
    ) -> tuple[int, Any]:
        subscriptions.delete(self.state, token, request.query.get("id"))
        return 204, None

    async def _create_conduit(
        self, request: web.Request, token: Token, now: float
    ) -> tuple[int, Any]:
        return 200, conduits.create(self.state, token, await _conduit_parameters(request), now)

    async def _list_conduits(
        self, request: web.Request, token: Token, now: float
    ) -> tuple[int, Any]:
        return 200, conduits.listing(self.state, token)

    async def _update_conduit(
        self, request: web.Request, token: Token, now: float
    ) -> tuple[int, Any]:
        return 200, conduits.update(self.state, token, await _conduit_parameters(request))

    async def _delete_conduit(
        self, request: web.Request, token: Token, now: float
    ) -> tuple[int, Any]:
        conduits.delete(self.state, token, request.query.get("id"), now)
        return 204, None

    async def _list_shards(self, request: web.Request, token: Token, now: float) -> tuple[int, Any]:
        return 200, conduits.shards(self.state, token, request.query)

    async def _update_shards(
        self, request: web.Request, token: Token, now: float
    ) -> tuple[int, Any]:
        body = await _conduit_parameters(request)
        answer = conduits.update_shards(self.state, token, body)
        conduit = self.state.conduits[body["conduit_id"]]  # update_shards checked it
        webhooks = self.dispatcher.webhooks
        for bound in answer["data"]:
            shard = conduit.shards[int(bound["id"])]
            if shard.method == "webhook" and webhooks is not None:
                self.dispatcher.spawn(webhooks.verify_shard(conduit, shard))
        return 202, answer

    async def _users(self, request: web.Request, token: Token, now: float) -> tuple[int, Any]:
        """GET /users?id=&login=: the users the simulator knows (the token's user by default)."""
        identity = self.state.identity
        ids, logins = request.query.getall("id", []), request.query.getall("login", [])
        if len(ids) + len(logins) > 100:
            raise bad_request("at most 100 id and login parameters")
        if not ids and not logins:
            if token.user_id is None:
                raise bad_request("an app token must name users by id or login")
            ids = [token.user_id]
        found = [identity.users[i] for i in ids if i in identity.users]
        found += [u for u in (identity.user_by_login(name) for name in logins) if u is not None]
        data = [
            {
                "id": user.user_id,
                "login": user.login,
                "display_name": user.login.capitalize(),
                "type": "",
                "broadcaster_type": "",
                "description": "",
                "profile_image_url": "",
                "offline_image_url": "",
                "view_count": 0,
                "created_at": "2016-12-14T20:32:28Z",
            }
            for user in found
        ]
        return 200, {"data": data}
