"""The Helix client against a scripted HTTP server on a real socket (answers chosen per test)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import redis

from kiss.auth.provider import Principal, StaticTokenProvider
from kiss.errors import PermanentHelixError, QuotaExceeded, TokenError, TransientHelixError
from kiss.helix.client import HelixClient, is_rate_limit
from kiss.helix.config import HelixConfig
from kiss.helix.ratelimit import RateLimitHeaders
from kiss.keys import Keys
from kiss.settings import EventSubSection, Settings, TwitchSection

Answer = tuple[int, dict[str, Any] | None, dict[str, str]]


@dataclass
class Script:
    answers: list[Answer] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def helix() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            script.seen.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "auth": self.headers.get("Authorization"),
                    "client_id": self.headers.get("Client-Id"),
                    "body": json.loads(body) if body else None,
                }
            )
            status, payload, headers = (
                script.answers.pop(0) if script.answers else (200, {"data": []}, {})
            )
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = do_PATCH = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/helix", script
    server.shutdown()
    server.server_close()


@pytest.fixture
def make_client(helix: tuple[str, Script], redis_client: redis.Redis, keys: Keys) -> Iterator[Any]:
    url, _ = helix
    clients: list[HelixClient] = []

    def make(provider: StaticTokenProvider | None = None) -> HelixClient:
        settings = Settings(
            twitch=TwitchSection(helix_url=url), eventsub=EventSubSection(req_jitter_ms=0)
        )
        client = HelixClient(
            HelixConfig.from_settings(settings),
            redis_client,
            provider or StaticTokenProvider(app="app-1", users={"42": "user-42"}),
            keys=keys,
            sleep=lambda seconds: None,
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def test_success_sends_bearer_and_client_id(make_client: Any, helix: tuple[str, Script]) -> None:
    _, script = helix
    script.answers.append((202, {"data": [{"id": "s1"}]}, {}))
    response = make_client().request(
        "post", "/eventsub/subscriptions", principal=Principal.app(), json={"type": "stream.online"}
    )
    assert response.status == 202
    assert response.body == {"data": [{"id": "s1"}]}
    assert script.seen[0]["auth"] == "Bearer app-1"
    assert script.seen[0]["client_id"] == "kiss-demo-client"
    assert script.seen[0]["body"] == {"type": "stream.online"}


def test_user_token_is_used_for_a_user_call(make_client: Any, helix: tuple[str, Script]) -> None:
    _, script = helix
    make_client().request("GET", "eventsub/subscriptions", principal=Principal.user("42"))
    assert script.seen[0]["auth"] == "Bearer user-42"


def test_other_4xx_is_permanent_with_twitchs_message(
    make_client: Any, helix: tuple[str, Script]
) -> None:
    _, script = helix
    script.answers.append(
        (403, {"status": 403, "message": "subscription missing proper authorization"}, {})
    )
    with pytest.raises(PermanentHelixError) as caught:
        make_client().request("POST", "/eventsub/subscriptions", principal=Principal.app(), json={})
    assert caught.value.status == 403
    assert "missing proper authorization" in caught.value.message
    assert len(script.seen) == 1


def test_expected_status_is_returned(make_client: Any, helix: tuple[str, Script]) -> None:
    _, script = helix
    script.answers.append((409, {"message": "subscription already exists"}, {}))
    response = make_client().request(
        "POST", "/eventsub/subscriptions", principal=Principal.app(), json={}, expect=(409,)
    )
    assert response.status == 409


def test_5xx_is_retried_then_transient(make_client: Any, helix: tuple[str, Script]) -> None:
    _, script = helix
    script.answers.extend([(503, {"message": "unavailable"}, {})] * 2 + [(200, {"data": []}, {})])
    assert (
        make_client().request("GET", "/eventsub/subscriptions", principal=Principal.app()).status
        == 200
    )
    script.answers.extend([(500, {"message": "boom"}, {})] * 4)
    with pytest.raises(TransientHelixError) as caught:
        make_client().request("GET", "/eventsub/subscriptions", principal=Principal.app())
    assert caught.value.status == 500


def test_quota_429_is_not_retried(make_client: Any, helix: tuple[str, Script]) -> None:
    _, script = helix
    limits = {"Ratelimit-Limit": "800", "Ratelimit-Remaining": "700", "Ratelimit-Reset": "1"}
    script.answers.append(
        (429, {"message": "maximum subscriptions with type and condition exceeded"}, limits)
    )
    with pytest.raises(QuotaExceeded):
        make_client().request("POST", "/eventsub/subscriptions", principal=Principal.app(), json={})
    assert len(script.seen) == 1


def test_rate_limit_429_waits_and_retries(make_client: Any, helix: tuple[str, Script]) -> None:
    _, script = helix
    limits = {"Ratelimit-Limit": "800", "Ratelimit-Remaining": "0", "Ratelimit-Reset": "1"}
    script.answers.extend(
        [(429, {"message": "Too Many Requests"}, limits), (202, {"data": []}, {})]
    )
    response = make_client().request(
        "POST", "/eventsub/subscriptions", principal=Principal.app(), json={}
    )
    assert response.status == 202
    assert len(script.seen) == 2


def test_401_invalidates_and_retries_once(make_client: Any, helix: tuple[str, Script]) -> None:
    _, script = helix
    provider = StaticTokenProvider(app="stale")
    script.answers.append((401, {"message": "invalid access token"}, {}))
    with pytest.raises(TokenError):
        make_client(provider).request("GET", "/eventsub/subscriptions", principal=Principal.app())
    assert provider.invalidated == {"stale"}


def test_unreachable_server_is_transient(redis_client: redis.Redis, keys: Keys) -> None:
    settings = Settings(twitch=TwitchSection(helix_url="http://127.0.0.1:9/helix"))
    client = HelixClient(
        HelixConfig.from_settings(settings),
        redis_client,
        StaticTokenProvider(app="secret-token-xyz"),
        keys=keys,
        sleep=lambda s: None,
    )
    with pytest.raises(TransientHelixError) as caught:
        client.request("GET", "/eventsub/subscriptions", principal=Principal.app())
    assert caught.value.status == 0
    assert "secret-token-xyz" not in str(caught.value)


@pytest.mark.parametrize(
    ("message", "remaining", "expected"),
    [
        ("Too Many Requests", 0, True),
        ("Too Many Requests", None, True),
        ("maximum subscriptions with type and condition exceeded", 0, False),
        ("number of websocket transports limit exceeded", 500, False),
        ("something else", 12, False),
    ],
)
def test_is_rate_limit(message: str, remaining: int | None, expected: bool) -> None:
    headers = None if remaining is None else RateLimitHeaders(800, remaining, None)
    assert is_rate_limit(message, headers) is expected
