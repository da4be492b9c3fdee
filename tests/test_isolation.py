"""No test disturbs what it did not start: a Redis command that cuts, flushes, stops or
reconfigures a server is sent only by a test that started its own (``private_redis`` or a
``PrivateRedis``), never to the shared Redis that may be a developer's running hub.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# redis-py's methods for them, and the raw commands (execute_command, redis-cli, MULTI text).
DISRUPTIVE = re.compile(
    r"client_kill|client_pause|flushall|flushdb|config_set|config_rewrite|"
    r"\bshutdown\b|debug_sleep|CLIENT\s+(KILL|PAUSE)|FLUSHALL|FLUSHDB|CONFIG\s+SET|\bSHUTDOWN\b",
)
PRIVATE = ("private_redis", "PrivateRedis")
# Not Redis: http.server's and socketserver's shutdown(), a socket's shutdown(SHUT_RDWR).
NOT_REDIS = re.compile(r"\b(server|httpd)\.shutdown\(\)|\.shutdown\(socket\.SHUT_\w+\)")


def offenders(source: str, name: str) -> list[str]:
    """``name:function`` of each function sending a disruptive command to a Redis not its own."""
    found = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if any(isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) for child in node.body):
            continue  # judged by its inner functions
        text = NOT_REDIS.sub("", ast.get_source_segment(source, node) or "")
        if DISRUPTIVE.search(text) and not any(word in text for word in PRIVATE):
            found.append(f"{name}:{node.name}")
    return found


def test_the_rule_catches_a_client_kill_on_the_shared_redis() -> None:
    shared = "def test_x(redis_client):\n    redis_client.client_kill_filter(_id=1)\n"
    own = "def test_y(private_redis):\n    c = connect(private_redis.url)\n    c.flushall()\n"
    http = "def test_z(server, sock):\n    server.shutdown()\n    sock.shutdown(socket.SHUT_RDWR)\n"
    assert offenders(shared, "t") == ["t:test_x"]
    assert offenders(own, "t") == []
    assert offenders(http, "t") == []


def test_no_test_disturbs_the_shared_redis() -> None:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        if path.name == Path(__file__).name:
            continue
        found += offenders(path.read_text(), str(path.relative_to(TESTS)))
    assert not found, f"use the private_redis fixture (tests/conftest.py) in: {found}"
