"""The control API under ``/control``: identities, triggers, load, sessions, faults, stats.

For tests and demos only; it is what ``kiss simulator trigger ...`` and
``kiss.simulator.testing.SimulatorControl`` call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from kiss.simulator.adapters.dispatcher import Dispatcher
from kiss.simulator.adapters.load import LoadGenerator, parse_load
from kiss.simulator.adapters.responses import json_body, json_response, problem_response
from kiss.simulator.faults import Faults, parse_fault, parse_raw_frames
from kiss.simulator.twitch.problems import TwitchProblem, bad_request
from kiss.simulator.twitch.world import SimulatorState

Handler = Callable[[web.Request], Awaitable[Any]]


def _string(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise bad_request(f"{name} must be a non-empty string")
    return value


def _scopes(body: dict[str, Any]) -> list[str]:
    scopes = body.get("scopes", [])
    if isinstance(scopes, str):
        scopes = scopes.split()
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise bad_request("scopes must be a list of strings")
    return scopes


async def _object(request: web.Request) -> dict[str, Any]:
    body = await json_body(request, required=False)
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    return body


class ControlApi:
    def __init__(
        self,
        state: SimulatorState,
        dispatcher: Dispatcher,
        loads: LoadGenerator,
        faults: Faults,
    ) -> None:
        self.state = state
        self.dispatcher = dispatcher
        self.loads = loads
        self.faults = faults

    def routes(self, prefix: str = "/control") -> list[web.RouteDef]:
        def route(method: str, path: str, handler: Handler) -> web.RouteDef:
            return web.route(method, prefix + path, self._wrap(handler))

        return [
            route("POST", "/clients", self.add_client),
            route("POST", "/users", self.add_user),
            route("POST", "/tokens", self.mint_token),
            route("POST", "/tokens/expire", self.expire_token),
            route("POST", "/authorizations", self.authorize),
            route("POST", "/device/approve", self.approve_device),
            route("POST", "/trigger", self.trigger),
            route("POST", "/load", self.start_load),
            route("GET", "/load/{id}", self.load_status),
            route("DELETE", "/load/{id}", self.stop_load),
            route("GET", "/sessions", self.sessions),
            route("POST", "/sessions/{id}/reconnect", self.reconnect),
            route("POST", "/sessions/{id}/close", self.close),
            route("POST", "/sessions/{id}/drop", self.drop),
            route("POST", "/sessions/{id}/silence", self.silence),
            route("POST", "/sessions/{id}/frames", self.raw_frames),
            route("GET", "/subscriptions", self.subscriptions),
            route("POST", "/subscriptions/{id}/revoke", self.revoke),
            route("GET", "/conduits", self.conduits),
            route("GET", "/faults", self.list_faults),
            route("POST", "/faults", self.add_fault),
            route("DELETE", "/faults", self.clear_faults),
            route("GET", "/stats", self.stats),
        ]

    def _wrap(self, handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                result = await handler(request)
            except TwitchProblem as problem:
                return problem_response(problem)
            if isinstance(result, web.StreamResponse):
                return result
            return json_response(result)

        return handle

    async def add_client(self, request: web.Request) -> Any:
        body = await _object(request)
        client = self.state.identity.add_client(
            _string(body, "client_id", required=False),
            _string(body, "client_secret", required=False),
        )
        return {"client_id": client.client_id, "client_secret": client.client_secret}

    async def add_user(self, request: web.Request) -> Any:
        body = await _object(request)
        user = self.state.identity.add_user(
            _string(body, "login") or "", _string(body, "user_id", required=False)
        )
        return {"user_id": user.user_id, "login": user.login}

    async def mint_token(self, request: web.Request) -> Any:
        body = await _object(request)
        expires_in = body.get("expires_in")
        if expires_in is None:
            lifetime = self.state.seconds(self.state.config.token_lifetime)
        elif isinstance(expires_in, int | float) and expires_in > 0:
            lifetime = float(expires_in)
        else:
            raise bad_request(f"expires_in must be a number of seconds > 0, got {expires_in!r}")
        now = self.dispatcher.clock()
        token = self.state.identity.mint(
            _string(body, "client_id") or "",
            _string(body, "user_id", required=False),
            _scopes(body),
            lifetime,
            now,
        )
        return {
            "access_token": token.access_token,
            "refresh_token": token.refresh_token,
            "expires_in": token.expires_in(now),
            "user_id": token.user_id,
            "client_id": token.client_id,
            "scopes": sorted(token.scopes),
        }

    async def expire_token(self, request: web.Request) -> Any:
        body = await _object(request)
        self.state.identity.expire(_string(body, "access_token") or "")
        return {"expired": True}

    async def authorize(self, request: web.Request) -> Any:
        body = await _object(request)
        client_id, user_id = _string(body, "client_id") or "", _string(body, "user_id") or ""
        self.state.identity.authorize(client_id, user_id, _scopes(body))
        scopes = self.state.identity.granted(client_id, user_id)
        return {"client_id": client_id, "user_id": user_id, "scopes": sorted(scopes)}

    async def approve_device(self, request: web.Request) -> Any:
        body = await _object(request)
        user_id = _string(body, "user_id", required=False)
        if user_id is None:
            user_id = self.state.identity.add_user(_string(body, "login") or "").user_id
        code = self.state.identity.approve_device(_string(body, "user_code") or "", user_id)
        return {"user_code": code.user_code, "user_id": user_id}

    async def trigger(self, request: web.Request) -> Any:
        body = await _object(request)
        condition, event, count = body.get("condition"), body.get("event"), body.get("count", 1)
        if condition is not None and not isinstance(condition, dict):
            raise bad_request("condition must be a JSON object")
        if event is not None and not isinstance(event, dict):
            raise bad_request("event must be a JSON object")
        if not isinstance(count, int) or not 1 <= count <= 100_000:
            raise bad_request(f"count must be an integer 1..100000, got {count!r}")
        resend, twin = body.get("resend", 0), body.get("twin", False)
        if not isinstance(resend, int) or not 0 <= resend <= 10:
            raise bad_request(f"resend must be an integer 0..10, got {resend!r}")
        if not isinstance(twin, bool):
            raise bad_request(f"twin must be true or false, got {twin!r}")
        message_ids = await self.dispatcher.trigger(
            _string(body, "type") or "",
            _string(body, "version", required=False),
            _string(body, "broadcaster_user_id", required=False),
            condition,
            event,
            count,
            resend=resend,
            twin=twin,
        )
        return {"sent": len(message_ids), "message_ids": message_ids}

    async def start_load(self, request: web.Request) -> Any:
        run = self.loads.start(parse_load(await _object(request)))
        return run.to_json()

    async def load_status(self, request: web.Request) -> Any:
        return self.loads.get(request.match_info["id"]).to_json()

    async def stop_load(self, request: web.Request) -> Any:
        return (await self.loads.stop(request.match_info["id"])).to_json()

    async def sessions(self, request: web.Request) -> Any:
        return {"data": [session.to_json() for session in self.state.sessions.values()]}

    async def reconnect(self, request: web.Request) -> Any:
        ws_url = f"ws://{request.host}/ws"
        url = await self.dispatcher.reconnect(request.match_info["id"], ws_url)
        return {"reconnect_url": url}

    async def close(self, request: web.Request) -> Any:
        body = await _object(request)
        code = body.get("code", 4000)
        if not isinstance(code, int):
            raise bad_request(f"code must be an integer 4000-4007, got {code!r}")
        await self.dispatcher.close(request.match_info["id"], code)
        return {"closed": True, "code": code}

    async def drop(self, request: web.Request) -> Any:
        self.dispatcher.drop(request.match_info["id"])
        return {"dropped": True}

    async def silence(self, request: web.Request) -> Any:
        body = await _object(request)
        silent = body.get("silent", True)
        if not isinstance(silent, bool):
            raise bad_request(f"silent must be true or false, got {silent!r}")
        self.dispatcher.silence(request.match_info["id"], silent)
        return {"silent": silent}

    async def raw_frames(self, request: web.Request) -> Any:
        frames = parse_raw_frames(await _object(request))
        return {"sent": await self.dispatcher.send_raw(request.match_info["id"], frames)}

    async def subscriptions(self, request: web.Request) -> Any:
        return {"data": [sub.to_json() for sub in self.state.subscriptions.values()]}

    async def revoke(self, request: web.Request) -> Any:
        body = await _object(request)
        reason = _string(body, "reason", required=False) or "authorization_revoked"
        sub = await self.dispatcher.revoke(request.match_info["id"], reason)
        return {"data": [sub.to_json()]}

    async def conduits(self, request: web.Request) -> Any:
        return {
            "data": [
                {**c.to_json(), "client_id": c.client_id, "shards": [s.to_json() for s in c.shards]}
                for c in self.state.conduits.values()
            ]
        }

    async def list_faults(self, request: web.Request) -> Any:
        return {"data": [fault.to_json() for fault in self.faults.list()]}

    async def add_fault(self, request: web.Request) -> Any:
        fault = parse_fault(await _object(request))
        self.faults.add(fault)
        return fault.to_json()

    async def clear_faults(self, request: web.Request) -> Any:
        self.faults.clear()
        return {"cleared": True}

    async def stats(self, request: web.Request) -> Any:
        return {
            **self.state.stats.to_json(),
            "sessions": sum(1 for s in self.state.sessions.values() if s.live),
            "subscriptions": len(self.state.subscriptions),
            "faults_served": {str(status): n for status, n in self.faults.served.items()},
            "loads": {load_id: run.to_json() for load_id, run in self.loads.runs.items()},
        }
