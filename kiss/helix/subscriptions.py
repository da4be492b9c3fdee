"""EventSub subscription endpoints (twitch-eventsub.md §4): create, delete, list every page.

A 409 on create names a subscription that already exists: ``Conflicts`` finds it in one
listing per principal and type, kept for the rest of the run (one reconciliation), so that 300
conflicts cost one Get of their type, not 300 (``attempt_create`` hands the 409 back for that).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kiss.auth.provider import Principal
from kiss.errors import MalformedMessage, PermanentHelixError, TransientHelixError
from kiss.eventsub.messages import parse_subscription
from kiss.eventsub.timestamps import parse_timestamp
from kiss.helix.client import Requester
from kiss.helix.records import TwitchSubscription, canonical

PATH = "eventsub/subscriptions"


def to_twitch_subscription(raw: Any) -> TwitchSubscription:
    """One Helix subscription object, or MalformedMessage naming what is wrong with it."""
    if not isinstance(raw, dict):
        raise MalformedMessage("a subscription must be an object")
    sub = parse_subscription(raw)
    transport = sub.transport
    try:
        created: datetime | None = datetime.fromtimestamp(parse_timestamp(sub.created_at), UTC)
    except (MalformedMessage, ValueError):
        created = None
    return TwitchSubscription(
        id=sub.id,
        type=sub.type,
        version=sub.version,
        condition={str(k): str(v) for k, v in sub.condition.items() if v not in (None, "")},
        status=sub.status,
        cost=sub.cost,
        method=str(transport.get("method", "")),
        session_id=transport.get("session_id"),
        conduit_id=transport.get("conduit_id"),
        created_at=created,
    )


@dataclass(frozen=True, slots=True)
class Created:
    subscription: TwitchSubscription
    adopted: bool  # True: Twitch answered 409 and we took over the existing one
    total_cost: int | None = None
    max_total_cost: int | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    subscriptions: list[TwitchSubscription] = field(default_factory=list)
    total_cost: int | None = None
    max_total_cost: int | None = None


def _int(body: Any, name: str) -> int | None:
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class Conflict:
    """A create Twitch answered with 409: the subscription exists; which one is found later,
    from a listing (``Conflicts.resolve``)."""

    type: str
    version: str
    condition: Mapping[str, str]
    method: str
    principal: Principal
    body: Any = None


class Conflicts:
    """Resolves the 409s of one run from one listing per (principal, type), made when the first
    of them is resolved and kept for the rest of the run. The executor resolves them after
    its creates, so the listing also shows what an earlier attempt created before its answer
    was lost (a 5xx after Twitch had done it)."""

    def __init__(self, client: Requester) -> None:
        self._client = client
        self._listed: dict[tuple[Principal, str], list[TwitchSubscription]] = {}
        self.listings = 0

    def listed(self, principal: Principal, type: str) -> list[TwitchSubscription]:
        key = (principal, type)
        if key not in self._listed:
            self._listed[key] = list_all(self._client, principal=principal, type=type).subscriptions
            self.listings += 1
        return self._listed[key]

    def resolve(self, conflict: Conflict) -> Created:
        """The subscription a 409 conflicts with, adopted; or TransientHelixError."""
        body = conflict.body
        wanted_id = body.get("id") if isinstance(body, dict) else None
        key = canonical(conflict.condition)
        for sub in self.listed(conflict.principal, conflict.type):
            if wanted_id and sub.id == wanted_id:
                return Created(sub, adopted=True)
            same = (sub.type, sub.version, canonical(sub.condition)) == (
                conflict.type,
                conflict.version,
                key,
            )
            if same and sub.method == conflict.method and sub.status == "enabled":
                return Created(sub, adopted=True)
        # Twitch's list can lag its create, or the conflicting one may be on its way out (an
        # orphan the same reconcile deletes): the next run, after a backoff, sees which.
        raise TransientHelixError(
            409, "subscription already exists but Get does not show it", method="POST", path=PATH
        )


def create(
    client: Requester,
    *,
    type: str,
    version: str,
    condition: Mapping[str, str],
    transport: Mapping[str, str],
    principal: Principal,
) -> Created:
    """Create one subscription; a 409 adopts the existing one (it is what we wanted)."""
    made = attempt_create(
        client,
        type=type,
        version=version,
        condition=condition,
        transport=transport,
        principal=principal,
    )
    return Conflicts(client).resolve(made) if isinstance(made, Conflict) else made


def attempt_create(
    client: Requester,
    *,
    type: str,
    version: str,
    condition: Mapping[str, str],
    transport: Mapping[str, str],
    principal: Principal,
) -> Created | Conflict:
    """Create one subscription; a 409 comes back as a ``Conflict`` to resolve later."""
    body = {
        "type": type,
        "version": version,
        "condition": dict(condition),
        "transport": dict(transport),
    }
    response = client.request("POST", PATH, principal=principal, json=body, expect=(409,))
    if response.status == 409:
        method = str(transport.get("method", ""))
        return Conflict(type, version, dict(condition), method, principal, response.body)
    data = response.body.get("data") if isinstance(response.body, dict) else None
    if not isinstance(data, list) or not data:
        raise PermanentHelixError(
            response.status, "create answer has no data", method="POST", path=PATH
        )
    return Created(
        to_twitch_subscription(data[0]),
        adopted=False,
        total_cost=_int(response.body, "total_cost"),
        max_total_cost=_int(response.body, "max_total_cost"),
    )


def delete(client: Requester, subscription_id: str, *, principal: Principal) -> bool:
    """Delete one subscription; False when Twitch no longer has it (404)."""
    response = client.request(
        "DELETE", PATH, principal=principal, params={"id": subscription_id}, expect=(404,)
    )
    return response.status != 404


def list_all(client: Requester, *, principal: Principal, **filters: str) -> Listing:
    """Every page of Get EventSub Subscriptions (the app token sees conduit + webhook subs)."""
    subs: list[TwitchSubscription] = []
    params: dict[str, str] = dict(filters)
    total_cost = max_total_cost = None
    while True:
        body = client.request("GET", PATH, principal=principal, params=params).body
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise MalformedMessage("Get subscriptions answer has no data list")
        subs.extend(to_twitch_subscription(item) for item in body["data"])
        total_cost = _int(body, "total_cost")
        max_total_cost = _int(body, "max_total_cost")
        pagination = body.get("pagination")
        cursor = pagination.get("cursor") if isinstance(pagination, dict) else None
        if not cursor:
            return Listing(subs, total_cost, max_total_cost)
        params = {**filters, "after": str(cursor)}
