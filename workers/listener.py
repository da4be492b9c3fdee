"""The listener process: holds the EventSub connections, writes every event to its channel's stream.

Started as ``kiss listener`` (or ``python -m workers.listener``). SIGTERM or SIGINT: stop
reading, flush what was received, close the sockets cleanly, report, exit 0.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from typing import Literal

import redis
import redis.asyncio as aioredis

from kiss.auth.credentials import client_credentials
from kiss.auth.oauth import OAuthClient
from kiss.auth.provider import TokenProvider
from kiss.errors import PermanentHelixError, TokenError
from kiss.helix.client import HelixClient
from kiss.helix.config import HelixConfig
from kiss.keys import Keys
from kiss.listener.app_token import AppTokenProvider
from kiss.listener.control_plane import ControlPlane, celery_sender
from kiss.listener.metrics import serve_metrics
from kiss.listener.service import Listener, ListenerOptions
from kiss.logs import bind, configure_logging
from kiss.settings import Settings, load_settings

log = logging.getLogger("kiss.listener")


def app_token_provider(settings: Settings) -> TokenProvider:
    client_id, client_secret = client_credentials(settings)
    return AppTokenProvider(OAuthClient(settings.twitch.oauth_url, client_id, client_secret))


async def serve(
    settings: Settings,
    options: ListenerOptions,
    *,
    tokens: TokenProvider | None = None,
    metrics_port: int | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Run the listener until SIGTERM/SIGINT (or ``stop``); returns the exit code."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    keys = Keys(settings.key_prefix)
    redis_client = aioredis.Redis.from_url(settings.redis_url)
    helix = None
    if options.transport == "conduit":
        helix = HelixClient(
            HelixConfig.from_settings(settings),
            redis.Redis.from_url(settings.redis_url),
            tokens or app_token_provider(settings),
            keys=keys,
        )
    control = ControlPlane(celery_sender(settings.redis_url), settings.celery_queue)
    listener = Listener(options, redis_client, keys, control, helix)
    port = settings.metrics_port if metrics_port is None else metrics_port
    server = None
    try:
        server, bound = serve_metrics(listener.snapshot, port, addr=settings.metrics_host)
        log.info("metrics on %s port %d (/metrics, /healthz)", settings.metrics_host, bound)
    except OSError as error:
        log.warning("no metrics endpoint (port %d: %s)", port, error)
    log.info(
        "listener %s starting (%s transport, %s)",
        options.listener_id,
        options.transport,
        options.ws_url,
    )
    try:
        await listener.run(stop)
    finally:
        if server is not None:
            server.shutdown()
        if helix is not None:
            helix.close()
        await redis_client.aclose()
    if listener.unwritten:
        log.error(
            "listener %s stopped with %d entries not written", options.listener_id,
            listener.unwritten,
        )  # fmt: skip
        return 1
    log.info("listener %s stopped cleanly", options.listener_id)
    return 0


def main(
    settings: Settings | None = None,
    *,
    listener_id: str | None = None,
    users: tuple[str, ...] = (),
    sessions_per_user: int = 1,
    transport: Literal["conduit", "websocket"] | None = None,
    time_unit: float = 1.0,
    metrics_port: int | None = None,
) -> int:
    settings = settings or load_settings()
    configure_logging(settings.log_level, "listener", settings.log_format)
    options = ListenerOptions.from_settings(
        settings,
        listener_id=listener_id,
        users=users,
        sessions_per_user=sessions_per_user,
        time_unit=time_unit,
        transport=transport,
    )
    bind(listener_id=options.listener_id)  # every line of this process names it (json logs)
    # Everything imported so far lives as long as the process: keep it out of the cyclic
    # collector's full passes, which would otherwise walk it during the flood.
    gc.freeze()
    try:
        return asyncio.run(serve(settings, options, metrics_port=metrics_port))
    except (TokenError, PermanentHelixError) as error:
        # Bad credentials or a refused conduit: retrying will not help; say why and stop.
        log.error("listener cannot start: %s", error)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
