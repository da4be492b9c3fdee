"""Waiting for a database within a bound (compose's migration, a PostgreSQL still starting)."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest
from click.testing import CliRunner

from kiss.cli import main
from kiss.errors import StartupFailed
from kiss.store.wait import wait_for_database
from tests.redis_server import free_port


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def refusing_url(password: str = "") -> str:
    auth = f"kiss:{password}@" if password else "kiss@"
    return f"postgresql+psycopg://{auth}127.0.0.1:{free_port()}/kiss?connect_timeout=2"


def test_a_database_that_answers_is_used_at_once(postgres_url: str) -> None:
    clock = FakeClock()
    assert wait_for_database(postgres_url, 60, clock=clock, sleep=clock.sleep) == 1
    assert clock.slept == []


def test_a_database_that_never_answers_is_named_once_the_bound_is_spent() -> None:
    clock = FakeClock()
    lines: list[str] = []
    url = refusing_url("hunter2")
    with pytest.raises(StartupFailed) as raised:
        wait_for_database(url, 5, clock=clock, sleep=clock.sleep, say=lines.append)
    message = str(raised.value)
    assert "did not accept a connection within 5 s" in message
    assert "127.0.0.1" in message and "hunter2" not in message and "hunter2" not in str(lines)
    assert clock.now == pytest.approx(5) and len(clock.slept) >= 3  # retried, then gave up
    assert max(clock.slept) <= 2.0


def test_a_database_that_comes_up_meanwhile_is_waited_for(postgres_url: str) -> None:
    """A port refused at first, then PostgreSQL's own: a tiny proxy opened after a delay."""
    from sqlalchemy.engine import make_url

    real = make_url(postgres_url)
    port = free_port()
    target = (real.host or "127.0.0.1", real.port or 5432)
    opened = threading.Event()

    def proxy() -> None:
        with socket.create_server(("127.0.0.1", port)) as server:
            opened.set()
            client, _ = server.accept()
            upstream = socket.create_connection(target)
            pipes = [
                threading.Thread(target=_pump, args=(client, upstream), daemon=True),
                threading.Thread(target=_pump, args=(upstream, client), daemon=True),
            ]
            for pipe in pipes:
                pipe.start()
            for pipe in pipes:
                pipe.join(10)

    starter = threading.Timer(0.6, lambda: threading.Thread(target=proxy, daemon=True).start())
    starter.start()
    url = real.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    try:
        attempts = wait_for_database(url, 20)
    finally:
        starter.cancel()
    assert opened.is_set() and attempts >= 2


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def test_kiss_db_upgrade_waits_with_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KISSBOT_DATABASE_URL", refusing_url())
    result = CliRunner().invoke(main, ["db", "upgrade", "--wait-for-database", "0.5"])
    assert result.exit_code == 1
    assert "did not accept a connection within 0.5 s" in result.output
    assert "Traceback" not in result.output
