"""Every Redis key and stream name the hub uses, in one place.

The bot client imports this module too, so it must stay free of heavy imports.
A ``Keys`` object carries a prefix, so that several hubs (or test runs) share one Redis.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "kiss"


@dataclass(frozen=True)
class Keys:
    prefix: str = DEFAULT_PREFIX

    # -- event delivery ---------------------------------------------------
    def channel_stream(self, channel_id: str) -> str:
        """The stream of one channel's events (one per broadcaster id)."""
        return f"{self.prefix}:events:{channel_id}"

    def channel_stream_pattern(self) -> str:
        return f"{self.prefix}:events:*"

    def channels(self) -> str:
        """Set of channel ids that have a stream."""
        return f"{self.prefix}:channels"

    def dedup_message(self, message_id: str) -> str:
        """Seen marker of a Twitch message_id (SET NX with a TTL)."""
        return f"{self.prefix}:dedup:msg:{message_id}"

    def dedup_event(self, topic: str, event_id: str) -> str:
        """Seen marker of an event's own id, for types that carry one."""
        return f"{self.prefix}:dedup:evt:{topic}:{event_id}"

    # -- listener state -----------------------------------------------------
    def listener_state(self, listener_id: str) -> str:
        """Hash: state of one listener process and its sessions or shards."""
        return f"{self.prefix}:listener:{listener_id}"

    def listeners(self) -> str:
        """Set of listener ids ever seen (their heartbeats say which live)."""
        return f"{self.prefix}:listeners"

    def ws_sessions(self) -> str:
        """Hash session_id -> JSON {user_id, listener, connected_at} of welcomed sessions."""
        return f"{self.prefix}:ws-sessions"

    def ws_sessions_wanted(self) -> str:
        """Hash user_id -> JSON {sessions, at}: websocket sessions the reconciler needs for a
        user whose sessions are full (written by each reconcile, read by the listener)."""
        return f"{self.prefix}:ws-sessions-wanted"

    def ws_session_channels(self, session_id: str) -> str:
        """Set of the channels subscribed on one websocket session (written by each reconcile;
        read by the listener to put a gap marker on all of them when the session is lost)."""
        return f"{self.prefix}:ws-session:{session_id}:channels"

    def shard_lease(self, conduit_id: str, shard_id: str) -> str:
        """A listener's lease on one conduit shard (SET NX PX)."""
        return f"{self.prefix}:conduit:{conduit_id}:shard:{shard_id}:lease"

    def conduit(self) -> str:
        """Hash: the conduit this hub uses (id, shard_count)."""
        return f"{self.prefix}:conduit"

    def counters(self) -> str:
        """Hash of hub-wide counters (events_routed, duplicates_dropped, reconnects, gaps...)."""
        return f"{self.prefix}:counters"

    def heartbeat(self, process: str) -> str:
        """Liveness of one process: a key with a TTL, refreshed while it runs."""
        return f"{self.prefix}:heartbeat:{process}"

    def heartbeat_pattern(self) -> str:
        return f"{self.prefix}:heartbeat:*"

    def drain(self) -> str:
        """Present while the hub is in maintenance (drain) mode."""
        return f"{self.prefix}:drain"

    # -- control plane ------------------------------------------------------
    def reconcile_lock(self) -> str:
        """Held (kiss.locks.FencedLock) by the one worker reconciling now."""
        return f"{self.prefix}:lock:reconcile"

    def reconcile_fence(self) -> str:
        """Counter: the fencing token of each reconcile-lock acquisition (INCR)."""
        return f"{self.prefix}:lock:reconcile:fence"

    def reconcile_runs(self) -> str:
        """Stream of reconcile runs (fence, holder, started, finished, outcome), capped."""
        return f"{self.prefix}:reconcile:runs"

    def reconcile_resync_requested(self) -> str:
        """Set when a resync is asked for: the lock holder re-reads Twitch on its next run."""
        return f"{self.prefix}:reconcile:resync-requested"

    def rate_bucket(self, client_id: str, user_id: str | None = None) -> str:
        """Token bucket shared by every worker for one Helix bucket."""
        suffix = f"{client_id}:{user_id}" if user_id else client_id
        return f"{self.prefix}:ratelimit:{suffix}"

    def control_requests(self) -> str:
        """Stream of bot requests (hello, subscribe, unsubscribe) to the control plane."""
        return f"{self.prefix}:control:requests"

    def control_reply(self, request_id: str) -> str:
        """List on which the control plane answers one request (BLPOP by the bot)."""
        return f"{self.prefix}:control:reply:{request_id}"

    def subscription_outcomes(self, channel_id: str) -> str:
        """Stream of subscription outcomes (active / failed with reason) for a channel."""
        return f"{self.prefix}:outcomes:{channel_id}"

    # -- bots -----------------------------------------------------------------
    def bot_presence(self, channel_id: str, bot: str) -> str:
        """Hash with a TTL: a bot's hello and heartbeat."""
        return f"{self.prefix}:bot:{channel_id}:{bot}"

    def bot_presence_pattern(self) -> str:
        return f"{self.prefix}:bot:*"

    def bot_group(self, bot: str) -> str:
        """Consumer-group name of one bot on its channel's stream."""
        return f"bot:{bot}"

    def bot_dead_letters(self, channel_id: str, bot: str) -> str:
        """Stream of a bot's entries whose handler kept failing past the delivery bound."""
        return f"{self.prefix}:deadletter:{channel_id}:{bot}"

    # -- listener slots and conduit membership (appended by the listener) -----
    def listener_slot(self, slot: str) -> str:
        """Hash: state of one session slot (a conduit shard or a websocket session), whoever holds
        it: phase, session_id, last_message_at, listener. Outlives the process, for gap markers."""
        return f"{self.prefix}:slot:{slot}"

    def listener_slot_channels(self, slot: str) -> str:
        """Set of channels seen on one slot: who gets a gap marker when that slot drops."""
        return f"{self.prefix}:slot:{slot}:channels"

    def conduit_members(self, conduit_id: str) -> str:
        """Sorted set listener_id -> expiry (epoch s) of listeners sharing a conduit's shards."""
        return f"{self.prefix}:conduit:{conduit_id}:members"

    def conduit_lock(self) -> str:
        """Held (kiss.locks.AsyncFencedLock) while one listener looks up or creates the conduit."""
        return f"{self.prefix}:lock:conduit"

    def conduit_fence(self) -> str:
        """Counter: the fencing token of each conduit-lock acquisition (INCR)."""
        return f"{self.prefix}:lock:conduit:fence"

    def reconcile_requested(self) -> str:
        """Set when someone asks for a reconciliation; the lock holder runs again if it is."""
        return f"{self.prefix}:reconcile:requested"
