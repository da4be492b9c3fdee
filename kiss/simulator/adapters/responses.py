"""Small aiohttp helpers shared by the simulator's routes: JSON in and out, Twitch errors."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from kiss.simulator.twitch.problems import TwitchProblem, bad_request


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers
    )


def problem_response(problem: TwitchProblem, headers: dict[str, str] | None = None) -> web.Response:
    return json_response(problem.body(), problem.status, headers)


async def json_body(request: web.Request, *, required: bool = True) -> Any:
    raw = await request.read()
    if not raw:
        if required:
            raise bad_request("request body must be JSON")
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise bad_request(f"request body is not valid JSON: {error}") from None
