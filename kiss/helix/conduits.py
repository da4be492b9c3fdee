"""Helix conduit endpoints (twitch-eventsub.md §3), on top of ``HelixClient``; app token only.

Update Conduit Shards answers 202 even when some shards failed: the failures come back
as data (``ShardUpdate.errors``), never as an exception, so the caller decides per shard.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kiss.auth.provider import Principal
from kiss.errors import MalformedMessage
from kiss.helix.client import HelixResponse
from kiss.helix.client import Requester as Requester  # the one protocol, named here too

PATH_CONDUITS = "eventsub/conduits"
PATH_SHARDS = "eventsub/conduits/shards"


@dataclass(frozen=True, slots=True)
class Conduit:
    id: str
    shard_count: int


@dataclass(frozen=True, slots=True)
class Shard:
    id: str
    status: str
    transport: dict[str, Any]

    @property
    def session_id(self) -> str | None:
        value = self.transport.get("session_id")
        return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class ShardError:
    id: str
    message: str
    code: str


@dataclass(frozen=True, slots=True)
class ShardUpdate:
    bound: tuple[str, ...]
    errors: tuple[ShardError, ...]


def _data(response: HelixResponse, what: str) -> list[dict[str, Any]]:
    body = response.body
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise MalformedMessage(f"{what}: answer has no data list: {body!r:.200}")
    return data


def _conduit(item: Mapping[str, Any]) -> Conduit:
    conduit_id, count = item.get("id"), item.get("shard_count")
    if not isinstance(conduit_id, str) or not isinstance(count, int):
        raise MalformedMessage(f"conduit object lacks id/shard_count: {item!r:.200}")
    return Conduit(conduit_id, count)


def get_conduits(helix: Requester) -> list[Conduit]:
    response = helix.request("GET", PATH_CONDUITS, principal=Principal.app())
    return [_conduit(item) for item in _data(response, "Get Conduits")]


def create_conduit(helix: Requester, shard_count: int) -> Conduit:
    response = helix.request(
        "POST", PATH_CONDUITS, principal=Principal.app(), json={"shard_count": shard_count}
    )
    return _conduit(_data(response, "Create Conduits")[0])


def update_conduit(helix: Requester, conduit_id: str, shard_count: int) -> Conduit:
    response = helix.request(
        "PATCH",
        PATH_CONDUITS,
        principal=Principal.app(),
        json={"id": conduit_id, "shard_count": shard_count},
    )
    return _conduit(_data(response, "Update Conduits")[0])


def delete_conduit(helix: Requester, conduit_id: str) -> None:
    helix.request("DELETE", PATH_CONDUITS, principal=Principal.app(), params={"id": conduit_id})


def get_shards(helix: Requester, conduit_id: str, status: str | None = None) -> list[Shard]:
    """Every shard of a conduit, following the pagination cursor."""
    shards: list[Shard] = []
    params: dict[str, str] = {"conduit_id": conduit_id}
    if status:
        params["status"] = status
    while True:
        response = helix.request("GET", PATH_SHARDS, principal=Principal.app(), params=params)
        for item in _data(response, "Get Conduit Shards"):
            transport = item.get("transport")
            shards.append(
                Shard(
                    str(item.get("id")),
                    str(item.get("status")),
                    transport if isinstance(transport, dict) else {},
                )
            )
        pagination = response.body.get("pagination") if isinstance(response.body, dict) else None
        cursor = pagination.get("cursor") if isinstance(pagination, dict) else None
        if not cursor:
            return shards
        params["after"] = str(cursor)


def bind_shards(
    helix: Requester, conduit_id: str, bindings: Iterable[tuple[str, str]]
) -> ShardUpdate:
    """Point shards at WebSocket sessions: ``bindings`` is (shard_id, session_id) pairs."""
    shards = [
        {"id": shard_id, "transport": {"method": "websocket", "session_id": session_id}}
        for shard_id, session_id in bindings
    ]
    response = helix.request(
        "PATCH",
        PATH_SHARDS,
        principal=Principal.app(),
        json={"conduit_id": conduit_id, "shards": shards},
    )
    body = response.body if isinstance(response.body, dict) else {}
    bound = tuple(str(item.get("id")) for item in body.get("data") or [] if isinstance(item, dict))
    errors = tuple(
        ShardError(str(item.get("id")), str(item.get("message", "")), str(item.get("code", "")))
        for item in body.get("errors") or []
        if isinstance(item, dict)
    )
    return ShardUpdate(bound, errors)
