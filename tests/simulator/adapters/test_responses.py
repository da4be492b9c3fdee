"""JSON responses and request bodies over a real aiohttp server."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from kiss.simulator.adapters.responses import json_body, json_response, problem_response
from kiss.simulator.twitch.problems import TwitchProblem, bad_request


async def echo(request: web.Request) -> web.Response:
    try:
        return json_response({"got": await json_body(request)}, headers={"X-Test": "1"})
    except TwitchProblem as problem:
        return problem_response(problem)


async def test_json_in_and_out() -> None:
    app = web.Application()
    app.router.add_post("/", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{port}/", json={"a": 1}) as r:
                assert (
                    r.status == 200
                    and r.headers["X-Test"] == "1"
                    and await r.json() == {"got": {"a": 1}}
                )
            async with http.post(f"http://127.0.0.1:{port}/", data=b"") as r:
                assert r.status == 400 and "must be JSON" in (await r.json())["message"]
            async with http.post(f"http://127.0.0.1:{port}/", data=b"{") as r:
                assert (await r.json())["error"] == "Bad Request"
    finally:
        await runner.cleanup()
    assert bad_request("x").status == 400
