from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kiss.supervisor.spec import http_answers, tcp_listening


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_tcp_listening_sees_a_listening_socket_and_not_a_closed_port() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert tcp_listening("127.0.0.1", server.getsockname()[1])()
    assert not tcp_listening("127.0.0.1", _closed_port())()


class _Status(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(503 if self.path == "/down" else 401)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Status)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_answers_accepts_any_status_below_500(http_server: str) -> None:
    assert http_answers(f"{http_server}/login")()
    assert not http_answers(f"{http_server}/down")()
    assert not http_answers(f"http://127.0.0.1:{_closed_port()}/")()
