"""A v5.0 ``kissbot.db`` and ``config.yaml`` as the seed's documentation describes them.

The three hub tables are the seed's (/work/shared/seed/eventsub-hub-v5.md, "Database
Schema"); ``users`` and ``tokens`` are the v4 tables the seed kept beside them, with a
token's ``user_id`` pointing at the users row, scopes as a JSON list and Fernet-encrypted
secrets (the seed's ``.kissbot.key``).
"""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet

V5_SCHEMA = """
CREATE TABLE desired_subscriptions (
  channel_id TEXT NOT NULL, topic TEXT NOT NULL, version TEXT DEFAULT '1',
  transport TEXT DEFAULT 'websocket', created_at TEXT, UNIQUE(channel_id, topic));
CREATE INDEX idx_desired_channel ON desired_subscriptions(channel_id);
CREATE INDEX idx_desired_topic ON desired_subscriptions(topic);
CREATE TABLE active_subscriptions (
  twitch_sub_id TEXT NOT NULL UNIQUE, channel_id TEXT NOT NULL, topic TEXT NOT NULL,
  status TEXT, cost INTEGER, created_at TEXT, UNIQUE(channel_id, topic));
CREATE INDEX idx_active_status ON active_subscriptions(status);
CREATE TABLE hub_state (key TEXT PRIMARY KEY, value TEXT, updated_at TEXT);
CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT, twitch_user_id TEXT NOT NULL UNIQUE,
  twitch_login TEXT NOT NULL, display_name TEXT);
CREATE TABLE tokens (
  user_id INTEGER NOT NULL, access_token TEXT NOT NULL, refresh_token TEXT,
  scopes TEXT, expires_at TEXT);
"""

# The seed's "Configuration" section, as it ships.
V5_CONFIG = """\
# 🌐 EventSub Hub (v5.0)
eventsub:
  # Hub configuration (single WebSocket for all bots)
  hub:
    enabled: false  # Set to true to use Hub mode
    socket_path: /tmp/kissbot_hub.sock

  # Reconciliation settings (Hub only)
  reconcile_interval: 60  # Seconds between reconciliation loops
  req_rate_per_s: 2  # Max subscription creates/deletes per second
  req_jitter_ms: 200  # Jitter between requests (milliseconds)

  # WebSocket reconnection settings (Hub only)
  ws_backoff_base: 2  # Backoff base for exponential backoff (seconds)
  ws_backoff_max: 60  # Max backoff for reconnection attempts (seconds)
"""


@dataclass(frozen=True)
class V5Channel:
    user_id: str
    login: str
    topics: tuple[tuple[str, str], ...] = (("stream.online", "1"), ("stream.offline", "1"))
    access_token: str = "v5-access"
    refresh_token: str = "v5-refresh"
    scopes: tuple[str, ...] = ("channel:bot", "user:read:chat")
    expires_at: str = "2025-11-05T14:42:38+00:00"  # expired long ago


def make_v5_db(path: Path, key: bytes, channels: tuple[V5Channel, ...]) -> Path:
    """A v5.0 kissbot.db at ``path`` with these channels, tokens sealed with ``key``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    seal = Fernet(key)
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("PRAGMA journal_mode=WAL")  # "WAL mode (already enabled in schema)"
        db.executescript(V5_SCHEMA)
        for number, channel in enumerate(channels, start=1):
            db.execute(
                "INSERT INTO users (id, twitch_user_id, twitch_login, display_name) "
                "VALUES (?, ?, ?, ?)",
                (number, channel.user_id, channel.login, channel.login.title()),
            )
            scopes = "[" + ", ".join(f'"{scope}"' for scope in channel.scopes) + "]"
            db.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, ?)",
                (
                    number,
                    seal.encrypt(channel.access_token.encode()).decode(),
                    seal.encrypt(channel.refresh_token.encode()).decode(),
                    scopes,
                    channel.expires_at,
                ),
            )
            for topic, version in channel.topics:
                db.execute(
                    "INSERT INTO desired_subscriptions VALUES (?, ?, ?, 'websocket', ?)",
                    (channel.user_id, topic, version, "2025-11-05T13:42:38"),
                )
                db.execute(
                    "INSERT INTO active_subscriptions VALUES (?, ?, ?, 'enabled', 1, ?)",
                    (f"v5-{channel.user_id}-{topic}", channel.user_id, topic, "2025-11-05"),
                )
        db.executemany(
            "INSERT INTO hub_state VALUES (?, ?, '2025-11-05T13:42:38')",
            [("ws_state", '"up"'), ("total_events_routed", "47"), ("total_reconnects", "0")],
        )
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
