"""The control plane's collaborators, built once per worker process from the settings."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from kiss.auth.credentials import client_credentials
from kiss.auth.oauth import OAuthClient
from kiss.auth.store_provider import StoredTokenProvider
from kiss.helix.client import HelixClient
from kiss.helix.config import HelixConfig
from kiss.keys import Keys
from kiss.reconcile.executor import Reconciler
from kiss.reconcile.lock import ReconcileLock
from kiss.settings import Settings
from kiss.store.crypto import TokenCipher
from kiss.store.db import make_engine, session_factory


@dataclass
class Services:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: redis.Redis
    keys: Keys
    cipher: TokenCipher
    oauth: OAuthClient
    tokens: StoredTokenProvider
    helix: HelixClient

    @classmethod
    def build(cls, settings: Settings) -> Services:
        engine = make_engine(settings.database_url)
        sessions = session_factory(engine)
        client = redis.Redis.from_url(settings.redis_url)
        keys = Keys(settings.key_prefix)
        cipher = TokenCipher.from_file(settings.secret_key_file)
        client_id, secret = client_credentials(settings)
        oauth = OAuthClient(settings.twitch.oauth_url, client_id, secret)
        tokens = StoredTokenProvider(sessions, cipher, oauth)
        helix = HelixClient(HelixConfig.from_settings(settings), client, tokens, keys=keys)
        return cls(settings, engine, sessions, client, keys, cipher, oauth, tokens, helix)

    def lock(self, holder: str | None = None) -> ReconcileLock:
        ttl = self.settings.eventsub.reconcile_lock_seconds
        return ReconcileLock(self.redis, self.keys, ttl_seconds=ttl, holder=holder)

    def reconciler(self) -> Reconciler:
        return Reconciler(
            self.sessions,
            self.redis,
            self.keys,
            self.helix,
            reconcile_interval=self.settings.eventsub.reconcile_interval,
        )

    def close(self) -> None:
        self.helix.close()
        self.oauth.close()
        self.redis.close()
        self.engine.dispose()
