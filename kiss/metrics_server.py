"""The metrics port's HTTP server, for the listener and the worker alike: ``/metrics``
(Prometheus), ``/healthz`` (200 or 503 with a short JSON body), 404 for any other path.

The health verdict is the caller's own (``Health``), the one its ``kiss`` healthcheck reads:
this module only turns it into a status code. It listens on ``settings.metrics_host``,
127.0.0.1 unless a container asks for more: the port has no authentication.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import orjson
from prometheus_client import CollectorRegistry, make_wsgi_app

log = logging.getLogger(__name__)

Health = Callable[[], tuple[bool, dict[str, Any]]]
"""() -> (healthy, details for the JSON body); an exception counts as unhealthy."""

StartResponse = Callable[..., Any]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a scrape in progress must not hold the process at exit


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """One line per scrape on stderr is noise; errors still reach the log."""


def metrics_app(registry: CollectorRegistry, health: Health) -> Callable[..., Iterable[bytes]]:
    """The WSGI application of a metrics port."""
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return metrics(environ, start_response)  # type: ignore[no-any-return]
        if path == "/healthz":
            try:
                healthy, details = health()
            except Exception as error:  # the verdict cannot be reached: not healthy
                healthy, details = False, {"error": f"{type(error).__name__}: {error}"}
            status = "200 OK" if healthy else "503 Service Unavailable"
            body = orjson.dumps({"healthy": healthy, **details}) + b"\n"
            return _answer(start_response, status, "application/json", body)
        body = b"not found: this port serves /metrics and /healthz\n"
        return _answer(start_response, "404 Not Found", "text/plain; charset=utf-8", body)

    return app


def _answer(start_response: StartResponse, status: str, kind: str, body: bytes) -> list[bytes]:
    start_response(status, [("Content-Type", kind), ("Content-Length", str(len(body)))])
    return [body]


def serve(
    registry: CollectorRegistry, health: Health, port: int, addr: str
) -> tuple[WSGIServer, int]:
    """Serve the metrics port in a daemon thread; returns (server, bound port).
    ``server.shutdown()`` stops it."""
    server_class = _IPv6Server if ":" in addr else _Server
    server = make_server(
        addr, port, metrics_app(registry, health), server_class, handler_class=_QuietHandler
    )
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server, int(server.server_port)
