"""The simulator process: one aiohttp app on one port with Twitch's paths.

``/ws`` (EventSub WebSocket), ``/helix/...``, ``/oauth2/...``, ``/control/...``, and the
Twitch CLI mock's paths (``/eventsub/subscriptions``, ``/mock/...``, ``/auth/...``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from types import TracebackType

import aiohttp
from aiohttp import web

from kiss.simulator.adapters.compat import MockApi
from kiss.simulator.adapters.control_api import ControlApi
from kiss.simulator.adapters.dispatcher import Dispatcher
from kiss.simulator.adapters.helix import HelixApi
from kiss.simulator.adapters.load import LoadGenerator
from kiss.simulator.adapters.oauth import OAuthApi
from kiss.simulator.adapters.responses import problem_response
from kiss.simulator.adapters.webhooks import WebhookSender
from kiss.simulator.adapters.websocket import serve_websocket
from kiss.simulator.config import SimulatorConfig
from kiss.simulator.faults import Faults
from kiss.simulator.twitch import conduits
from kiss.simulator.twitch.problems import TwitchProblem
from kiss.simulator.twitch.ratelimit import RateLimiter, bucket_key
from kiss.simulator.twitch.world import SimulatorState

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UNFAULTED = ("/control", "/ws")
HELIX_PATHS = ("/helix/", "/mock/")


class Simulator:
    """``async with Simulator(SimulatorConfig(port=0)) as sim:`` then ``sim.base_url``."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.state = SimulatorState(self.config)
        self.dispatcher = Dispatcher(self.state)
        self.limiter = RateLimiter(
            self.config.rate_limit_points, self.config.seconds(self.config.rate_limit_window)
        )
        self.faults = Faults()
        self.loads = LoadGenerator(self.dispatcher)
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None  # for webhook callbacks

    # -- addresses -------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the simulator is not started")
        return f"http://{self.config.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1) + "/ws"

    @property
    def helix_url(self) -> str:
        return f"{self.base_url}/helix"

    @property
    def oauth_url(self) -> str:
        return f"{self.base_url}/oauth2"

    # -- app ---------------------------------------------------------------------
    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._fault_middleware], client_max_size=4 << 20)
        helix = HelixApi(self.state, self.limiter, self.dispatcher)
        oauth = OAuthApi(self.state, self.dispatcher)
        control = ControlApi(self.state, self.dispatcher, self.loads, self.faults)

        async def websocket(request: web.Request) -> web.StreamResponse:
            return await serve_websocket(request, self.state, self.dispatcher)

        app.router.add_get("/ws", websocket, allow_head=False)
        app.router.add_routes(helix.routes("/helix"))
        app.router.add_routes(oauth.routes("/oauth2"))
        app.router.add_get("/activate", oauth.activate, allow_head=False)
        app.router.add_routes(control.routes("/control"))
        app.router.add_routes(MockApi(self.state, helix, oauth).routes())
        return app

    @web.middleware
    async def _fault_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(UNFAULTED):
            return await handler(request)
        fault = self.faults.take(request.path)
        if fault is None:
            return await handler(request)
        if fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        if fault.status is None:
            return await handler(request)
        if fault.after:  # done, and the answer lost on its way back
            await handler(request)
        headers = self._rate_headers(request)
        if fault.status == 429:
            self.state.stats.rate_limited += 1
            reset = int(time.time() + self.limiter.window) + 1
            headers = {
                "Ratelimit-Limit": str(self.limiter.points),
                "Ratelimit-Remaining": "0",
                "Ratelimit-Reset": str(reset),
            }
        message = "Too Many Requests" if fault.status == 429 else "injected fault"
        return problem_response(TwitchProblem(fault.status, message), headers)

    def _rate_headers(self, request: web.Request) -> dict[str, str]:
        """The caller's bucket as it stands, so injected Helix errors carry the headers too."""
        if not request.path.startswith(HELIX_PATHS):
            return {}
        now = self.dispatcher.clock()
        client_id = request.headers.get("Client-Id")
        try:
            token = self.state.identity.bearer(request.headers.get("Authorization"), client_id, now)
        except TwitchProblem:
            return self.limiter.peek(f"anonymous:{client_id}", now).headers()
        return self.limiter.peek(bucket_key(token), now).headers()

    # -- lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        self._http = aiohttp.ClientSession()
        self.dispatcher.webhooks = WebhookSender(self.state, self._http, self.dispatcher.clock)
        self._runner = web.AppRunner(self.build_app(), shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = int(sockets[0].getsockname()[1]) if sockets else self.config.port
        self._sweeper = asyncio.create_task(self._sweep())

    async def stop(self) -> None:
        await self.loads.stop_all()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for link in list(self.dispatcher.links.values()):
            with contextlib.suppress(Exception):
                await link.close(4000)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.dispatcher.cancel_background()
        self.dispatcher.webhooks = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _sweep(self) -> None:
        """Forget disabled subscriptions after the retention, and conduits idle for 72 h."""
        every = min(1.0, max(0.02, self.config.seconds(self.config.disabled_retention) / 4))
        while True:
            await asyncio.sleep(every)
            now = self.dispatcher.clock()
            self.state.purge_disabled(now)
            conduits.expire_idle(self.state, now)

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def serve_forever(self, announce: Callable[[str], None] = print) -> None:
        """Run until cancelled; announce the address once it is listening."""
        async with self:
            announce(f"simulator listening on {self.base_url}")
            await asyncio.Event().wait()
