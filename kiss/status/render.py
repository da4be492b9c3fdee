"""Pure text rendering: the seed's ``hub_ctl.py status`` layout, and plain tables.

Time comes in as an argument (``status.now``) so the output is tested from data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from kiss.status.model import BotStatus, ChannelStatus, HubStatus, ListenerStatus, SubscriptionRow

RULE = "=" * 80
UP = "🟢 UP"
DOWN = "🔴 DOWN"
# Counters shown first and by these names; any other counter follows, titled from its key.
COUNTER_TITLES = {
    "events_routed": "Events Routed",
    "duplicates_dropped": "Duplicates Dropped",
    "reconciliations": "Reconciliations",
    "reconnects": "Reconnects",
    "gaps": "Gaps",
    "revocations": "Revocations",
}


def ago(seconds: float) -> str:
    """'30s ago', '5m ago', '2h ago', '3d ago'."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _why(listener: ListenerStatus) -> str:
    return f" ({listener.problems})" if listener.problems else ""


def _transport_lines(status: HubStatus) -> list[str]:
    if status.transport == "websocket":
        lines = [f"🌐 WebSocket: {UP if status.up else DOWN}"]
        for listener in status.listeners:
            mark = "🟢" if listener.alive else "🔴"
            lines.append(
                f"   {mark} {listener.listener_id}: {listener.state}, "
                f"{listener.sessions} sessions{_why(listener)}"
            )
        return lines
    held = sum(1 for shard in status.shards if shard.holder)
    conduit = status.conduit_id or "not created yet"
    shards = f"{held}/{len(status.shards)} shards up"
    lines = [f"🌐 Conduit: {UP if status.up else DOWN}  ({conduit}, {shards})"]
    for shard in status.shards:
        if shard.holder:
            lines.append(f"   🟢 shard {shard.shard_id}: {shard.holder}")
        else:
            lines.append(f"   🔴 shard {shard.shard_id}: no listener holds it")
    for listener in status.listeners:
        mark = "🟢" if listener.alive else "🔴"
        lines.append(f"   {mark} listener {listener.listener_id}: {listener.state}{_why(listener)}")
    if not status.listeners:
        lines.append("   🔴 no listener has ever reported (is `kiss listener` running?)")
    return lines


def _subscription_lines(status: HubStatus) -> list[str]:
    lines = [
        "📊 Subscriptions:",
        f"   Desired: {status.desired}",
        f"   Active:  {status.active}",
    ]
    if not status.missing and status.desired == status.active:
        lines.append("   ✅ Perfect sync!")
        return lines
    if status.missing:
        lines.append(f"   ⚠️  Missing: {len(status.missing)}")
    for item in status.missing:
        why = f": {item.reason}" if item.reason else ""
        lines.append(f"      - {item.channel_id} {item.type} v{item.version} [{item.state}]{why}")
    extra = status.active - (status.desired - len(status.missing))
    if extra > 0:
        lines.append(
            f"   ⚠️  Not desired but active: {extra} (the next reconciliation removes them)"
        )
    return lines


def _reconcile_line(status: HubStatus) -> str:
    if status.last_reconcile_at is None:
        return "🔄 Last Reconciliation: never (is the Celery worker and beat running?)"
    when = timestamp(status.last_reconcile_at)
    outcome = f", {status.last_reconcile_outcome}" if status.last_reconcile_outcome else ""
    line = f"🔄 Last Reconciliation: {when} ({ago(status.now - status.last_reconcile_at)}{outcome})"
    if status.reconcile_holder:
        line += f"; running now: {status.reconcile_holder}"
    return line


def _counter_lines(counters: Mapping[str, int]) -> list[str]:
    names = [name for name in COUNTER_TITLES if name in counters]
    names += sorted(name for name in counters if name not in COUNTER_TITLES)
    titles = [COUNTER_TITLES.get(name, name.replace("_", " ").title()) for name in names]
    width = max((len(title) for title in titles), default=0) + 1
    lines = ["📈 Metrics:"]
    lines += [
        f"   {(title + ':').ljust(width)}  {counters[name]}"
        for title, name in zip(titles, names, strict=True)
    ]
    if not names:
        lines.append("   (no events routed yet)")
    return lines


def _bot_line(bot: BotStatus, now: float) -> str:
    mark = "🟢" if bot.alive else "🔴"
    lag = "?" if bot.lag is None else str(bot.lag)
    seen = "" if bot.last_seen is None else f", seen {ago(now - bot.last_seen)}"
    return f"      {mark} bot {bot.bot}: {bot.state}, lag {lag}, pending {bot.pending}{seen}"


def _channel_lines(channels: Sequence[ChannelStatus], now: float) -> list[str]:
    lines = ["📺 Channels:"]
    if not channels:
        lines.append("   (none yet: start a bot, or `kiss channels add`)")
    for channel in channels:
        mark = "✅" if channel.active >= channel.desired else "⚠️ "
        name = f" ({channel.name})" if channel.name else ""
        lines.append(
            f"   {mark} Channel {channel.channel_id}{name}: {channel.active}/{channel.desired} subs"
        )
        lines += [_bot_line(bot, now) for bot in channel.bots]
        if not channel.bots:
            lines.append("      (no bot connected)")
    return lines


def render_status(status: HubStatus) -> str:
    """The seed's status screen, finished: transport, sync and why not, counters, channels."""
    lines = [RULE, "EventSub Hub - Status", RULE, ""]
    lines += _transport_lines(status)
    if status.draining:
        lines += ["", "🛠  Maintenance: DRAINING (subscriptions frozen; `kiss undrain` to resume)"]
    down = sorted(name for name, alive in status.processes.items() if not alive)
    if down:
        lines += ["", f"💀 Silent processes (heartbeat expired): {', '.join(down)}"]
    lines += ["", *_subscription_lines(status), "", _reconcile_line(status), ""]
    lines += _counter_lines(status.counters)
    lines += ["", *_channel_lines(status.channels, status.now)]
    return "\n".join(lines) + "\n"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain, left-aligned table for people; scripts use ``--json``."""
    cells = [[str(value) for value in row] for row in rows]
    widths = [
        max([len(header), *(len(row[index]) for row in cells)])
        for index, header in enumerate(headers)
    ]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            value.ljust(width) for value, width in zip(values, widths, strict=True)
        ).rstrip()

    out = [line(headers), line(["-" * width for width in widths])]
    out += [line(row) for row in cells]
    return "\n".join(out) + "\n"


def render_subscriptions(rows: Sequence[SubscriptionRow]) -> str:
    if not rows:
        return "No desired subscriptions match.\n"
    return render_table(
        ("CHANNEL", "TYPE", "V", "STATE", "SUBSCRIPTION", "BOT", "REASON"),
        [
            (
                r.channel_id,
                r.type,
                r.version,
                r.state,
                r.subscription_id or "-",
                r.requested_by or "-",
                r.reason,
            )
            for r in rows
        ],
    )


def slot_title(slot: str) -> str:
    """``conduit:C:shard:0`` -> ``shard 0``; a websocket slot (``ws:<user>:<n>``) as it is."""
    _, found, shard = slot.rpartition(":shard:")
    return f"shard {shard}" if found else slot


def _reconnect_lines(reconnects: Mapping[str, Mapping[str, int]]) -> list[str]:
    lines = []
    for listener_id, counts in reconnects.items():
        slots = ", ".join(
            f"{slot_title(slot)}: {count}" for slot, count in counts.items() if slot != "total"
        )
        lines.append(
            f"      listener {listener_id}: {counts.get('total', 0)}"
            + (f" ({slots})" if slots else "")
        )
    return lines


def render_metrics(
    counters: Mapping[str, int], reconnects: Mapping[str, Mapping[str, int]] | None = None
) -> str:
    """The counters; with ``reconnects`` (per listener and slot), Reconnects is always shown,
    followed by its breakdown."""
    if reconnects is None:
        return "\n".join(_counter_lines(counters)) + "\n"
    lines = _counter_lines({**counters, "reconnects": counters.get("reconnects", 0)})
    at = next(i for i, line in enumerate(lines) if line.lstrip().startswith("Reconnects:"))
    lines[at + 1 : at + 1] = _reconnect_lines(reconnects)
    return "\n".join(lines) + "\n"
