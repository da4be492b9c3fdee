from __future__ import annotations

import base64
from typing import Any

import orjson
import redis

from kiss.keys import Keys
from kiss.listener.control_plane import ControlPlane, celery_sender


def queued(client: redis.Redis, queue: str) -> list[tuple[str, Any]]:
    found = []
    for raw in reversed(client.lrange(queue, 0, -1)):
        message = orjson.loads(raw)
        body = orjson.loads(base64.b64decode(message["body"]))
        found.append((message["headers"]["task"], body[1]))
    return found


async def test_tasks_are_sent_by_name_to_the_configured_queue(
    redis_url: str, redis_client: redis.Redis, keys: Keys
) -> None:
    queue = f"q-{keys.prefix}"
    control = ControlPlane(celery_sender(redis_url), queue)
    try:
        await control.session_welcomed("S1", "42")
        await control.revoked("sub-1", "42", "channel.follow", "2", "user_removed")
        assert queued(redis_client, queue) == [
            ("kiss.session_welcomed", {"session_id": "S1", "user_id": "42"}),
            (
                "kiss.revoked",
                {
                    "subscription_id": "sub-1",
                    "channel_id": "42",
                    "type": "channel.follow",
                    "version": "2",
                    "reason": "user_removed",
                },
            ),
        ]
        assert control.failures == 0
    finally:
        redis_client.delete(queue)


class RefusingBroker:
    """A broker that is down: the listener must carry on, counting the failure."""

    def send_task(self, name: str, *, kwargs: dict[str, Any], queue: str) -> Any:
        raise ConnectionError("broker down")


async def test_a_failed_send_is_counted_not_raised() -> None:
    control = ControlPlane(RefusingBroker(), "q")
    await control.session_welcomed("S1", "42")
    assert control.failures == 1
