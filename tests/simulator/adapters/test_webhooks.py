"""The webhook transport against a real HTTP receiver: challenge, signatures, failures."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from aiohttp import web

from kiss.simulator import Simulator
from tests.simulator.conftest import Api
from tests.waiting import wait_for_async as wait_for

SECRET = "s3cret-for-tests"


@dataclass
class Receiver:
    """A webhook endpoint that verifies every signature and records every message."""

    url: str = ""
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    bad_signatures: int = 0
    answer_challenge: bool = True
    status: int = 204

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = request.headers
        expected = (
            "sha256="
            + hmac.new(
                SECRET.encode(),
                headers["Twitch-Eventsub-Message-Id"].encode()
                + headers["Twitch-Eventsub-Message-Timestamp"].encode()
                + body,
                hashlib.sha256,
            ).hexdigest()
        )
        if not hmac.compare_digest(expected, headers["Twitch-Eventsub-Message-Signature"]):
            self.bad_signatures += 1
        payload = orjson.loads(body)
        kind = headers["Twitch-Eventsub-Message-Type"]
        self.messages.append((kind, payload))
        if kind == "webhook_callback_verification":
            return web.Response(text=payload["challenge"] if self.answer_challenge else "nope")
        return web.Response(status=self.status)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = Receiver()
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    yield hook
    await runner.cleanup()


async def webhook_sub(api: Api, url: str) -> tuple[str, str]:
    token = await api.token()
    transport = {"method": "webhook", "callback": url, "secret": SECRET}
    status, body = await api.subscribe(
        token, "stream.online", {"broadcaster_user_id": "1001"}, transport
    )
    assert status == 202, body
    assert body["data"][0]["status"] == "webhook_callback_verification_pending"
    assert body["data"][0]["transport"] == {"method": "webhook", "callback": url}  # no secret
    return token, str(body["data"][0]["id"])


async def test_challenge_then_signed_notification(
    sim: Simulator, api: Api, receiver: Receiver
) -> None:
    _, sub_id = await webhook_sub(api, receiver.url)
    await wait_for(lambda: sim.state.subscriptions[sub_id].status == "enabled")
    result = await api.control(
        "POST", "/trigger", {"type": "stream.online", "broadcaster_user_id": "1001"}
    )
    assert result["sent"] == 1
    await wait_for(lambda: len(receiver.messages) == 2)
    (first, challenge), (second, note) = receiver.messages
    assert first == "webhook_callback_verification" and challenge["subscription"]["id"] == sub_id
    assert second == "notification" and note["event"]["broadcaster_user_id"] == "1001"
    assert receiver.bad_signatures == 0


async def test_a_batched_type_carries_events_not_event(
    sim: Simulator, api: Api, receiver: Receiver
) -> None:
    token = await api.token()
    transport = {"method": "webhook", "callback": receiver.url, "secret": SECRET}
    status, body = await api.subscribe(
        token, "drop.entitlement.grant", {"organization_id": "org-1"}, transport
    )
    assert status == 202, body
    sub_id = str(body["data"][0]["id"])
    await wait_for(lambda: sim.state.subscriptions[sub_id].status == "enabled")
    result = await api.control(
        "POST",
        "/trigger",
        {"type": "drop.entitlement.grant", "condition": {"organization_id": "org-1"}},
    )
    assert result["sent"] == 1
    await wait_for(lambda: len(receiver.messages) == 2)
    kind, note = receiver.messages[1]
    assert kind == "notification" and "event" not in note
    [item] = note["events"]
    assert set(item) == {"id", "data"} and item["data"]["organization_id"] == "org-1"


async def test_wrong_challenge_answer_fails_verification(
    sim: Simulator, api: Api, receiver: Receiver
) -> None:
    receiver.answer_challenge = False
    _, sub_id = await webhook_sub(api, receiver.url)
    await wait_for(
        lambda: sim.state.subscriptions[sub_id].status == "webhook_callback_verification_failed"
    )


async def test_repeated_failures_disable_and_revoke(
    sim: Simulator, api: Api, receiver: Receiver
) -> None:
    _, sub_id = await webhook_sub(api, receiver.url)
    await wait_for(lambda: sim.state.subscriptions[sub_id].status == "enabled")
    receiver.status = 500
    result = await api.control(
        "POST", "/trigger", {"type": "stream.online", "broadcaster_user_id": "1001", "count": 3}
    )
    assert result["sent"] == 0
    assert sim.state.subscriptions[sub_id].status == "notification_failures_exceeded"
    kind, revocation = receiver.messages[-1]
    assert (
        kind == "revocation"
        and revocation["subscription"]["status"] == "notification_failures_exceeded"
    )


async def test_control_revoke_reaches_the_callback(
    sim: Simulator, api: Api, receiver: Receiver
) -> None:
    _, sub_id = await webhook_sub(api, receiver.url)
    await wait_for(lambda: sim.state.subscriptions[sub_id].status == "enabled")
    await api.control(
        "POST", f"/subscriptions/{sub_id}/revoke", {"reason": "authorization_revoked"}
    )
    kind, revocation = receiver.messages[-1]
    assert kind == "revocation" and revocation["subscription"]["status"] == "authorization_revoked"


async def test_callbacks_must_be_https_except_loopback(api: Api) -> None:
    token = await api.token()
    for callback in ("http://example.com/hook", "https://example.com:8443/hook"):
        transport = {"method": "webhook", "callback": callback, "secret": SECRET}
        status, body = await api.subscribe(
            token, "stream.online", {"broadcaster_user_id": "1"}, transport
        )
        assert status == 400 and "https" in body["message"]


async def test_conduit_webhook_shard(sim: Simulator, api: Api, receiver: Receiver) -> None:
    token = await api.token()
    _, created, _ = await api.helix("POST", "/eventsub/conduits", token, json={"shard_count": 1})
    conduit_id = created["data"][0]["id"]
    shard = {
        "id": "0",
        "transport": {"method": "webhook", "callback": receiver.url, "secret": SECRET},
    }
    status, answer, _ = await api.helix(
        "PATCH",
        "/eventsub/conduits/shards",
        token,
        json={"conduit_id": conduit_id, "shards": [shard]},
    )
    assert status == 202 and answer["data"][0]["status"] == "webhook_callback_verification_pending"
    await wait_for(lambda: sim.state.conduits[conduit_id].shards[0].enabled)
    kind, challenge = receiver.messages[0]
    assert kind == "webhook_callback_verification"
    assert challenge["conduit_shard"] == {"conduit_id": conduit_id, "shard": "0"}
    transport = {"method": "conduit", "conduit_id": conduit_id}
    assert (
        await api.subscribe(token, "stream.online", {"broadcaster_user_id": "1001"}, transport)
    )[0] == 202
    result = await api.control(
        "POST", "/trigger", {"type": "stream.online", "broadcaster_user_id": "1001"}
    )
    assert result["sent"] == 1
    kind, note = receiver.messages[-1]
    assert kind == "notification" and note["subscription"]["transport"] == transport
    assert receiver.bad_signatures == 0
    receiver.status = 503
    await api.control(
        "POST", "/trigger", {"type": "stream.online", "broadcaster_user_id": "1001", "count": 3}
    )
    assert sim.state.conduits[conduit_id].shards[0].status == "notification_failures_exceeded"
