"""Typed settings, read once at a process's entry point and passed down.

Sources, strongest first: keyword arguments, ``KISSBOT_*`` environment variables
(nested keys joined with ``__``, e.g. ``KISSBOT_EVENTSUB__RECONCILE_INTERVAL=30``),
the settings file of a running ``kiss run`` (kiss/localrun.py), the YAML file
(``config/config.yaml`` or the path in ``KISSBOT_CONFIG``), then defaults.
The seed's variables ``KISSBOT_DB_PATH`` and ``KISSBOT_REDIS_URL`` are honoured too, and the
seed's ``config.yaml`` is read as it is: its keys that mean nothing here (``V5_KEYS``) are
accepted with one warning each that says what replaces them.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from kiss import localrun
from kiss.errors import ConfigError
from kiss.logs import LogFormat, redact

log = logging.getLogger(__name__)

DEFAULT_CONFIG_PATH = Path("config/config.yaml")
TWITCH_EVENTSUB_WS_URL = "wss://eventsub.wss.twitch.tv/ws"
TWITCH_HELIX_URL = "https://api.twitch.tv/helix"
TWITCH_OAUTH_URL = "https://id.twitch.tv/oauth2"


# Keys of the seed's (v5.0) config.yaml that mean nothing here -> what replaces them.
V5_KEYS: dict[tuple[str, ...], str] = {
    ("eventsub", "hub", "socket_path"): (
        "not used: bots read their channel's Redis stream (redis_url, key_prefix), there is no "
        "Unix socket (docs/migrating-from-v5.md)"
    ),
    ("eventsub", "hub", "enabled"): (
        "not used: the hub is always on and every bot reads its Redis stream (v5's direct "
        "mode, a bot with its own EventSub connection, does not exist here); remove the key"
    ),
}
# The seed's environment variables that mean nothing here -> what replaces them.
V5_VARIABLES: dict[str, str] = {
    "KISSBOT_HUB_SOCKET": "not used: bots read their channel's Redis stream (KISSBOT_REDIS_URL)",
}
_warned: set[tuple[str, ...]] = set()


def _warn_once(path: tuple[str, ...], message: str, source: str) -> None:
    if path not in _warned:
        _warned.add(path)
        log.warning("%s: %s: %s", source, ".".join(path), message)


def accept_v5_keys(data: dict[str, Any], source: str) -> dict[str, Any]:
    """``data`` without the seed's keys that mean nothing here, warning once for each."""
    for path, message in V5_KEYS.items():
        *parents, last = path
        section: Any = data
        for name in parents:
            section = section.get(name) if isinstance(section, dict) else None
        if isinstance(section, dict) and last in section:
            del section[last]
            _warn_once(path, message, source)
            _drop_empty(data, parents)
    return data


def _drop_empty(data: dict[str, Any], path: list[str]) -> None:
    """Remove the sections along ``path`` that the v5 keys left empty (``eventsub.hub``)."""
    for depth in range(len(path), 0, -1):
        *parents, last = path[:depth]
        section: Any = data
        for name in parents:
            section = section[name]
        if section.get(last) == {}:
            del section[last]


class _YamlFile(YamlConfigSettingsSource):
    """The config file: a mapping of settings, the seed's v5.0 keys accepted (with warnings)."""

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        data: Any = super()._read_file(file_path)
        if not isinstance(data, dict):
            raise ConfigError(
                f"{file_path}: the top level must be a mapping of settings (key: value lines, "
                f"such as `redis_url: redis://...`), not a {type(data).__name__}; "
                "start from config/config.yaml.example"
            )
        return accept_v5_keys(data, str(file_path))


# The database URLs the hub's drivers take (requirements.txt: SQLite built in, psycopg 3).
DATABASE_URL_FORMS = (
    "sqlite:///relative/path.db",
    "sqlite:////absolute/path.db",
    "postgresql+psycopg://user:password@host:5432/dbname",
)
DATABASE_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg")
_SCHEME_FIXES = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg",
                 "postgresql+psycopg2": "postgresql+psycopg", "sqlite3": "sqlite"}  # fmt: skip


def check_database_url(value: str) -> str:
    """``value`` when it is a URL form the hub can open, else ValueError naming the forms."""
    scheme, sep, rest = value.partition("://")
    if sep and scheme in DATABASE_SCHEMES and (scheme.startswith("postgresql") or rest):
        return value
    forms = ", ".join(DATABASE_URL_FORMS)
    fix = _SCHEME_FIXES.get(scheme)
    if fix:
        raise ValueError(
            f"use {fix}://{_masked(rest)} (this hub's driver); the forms that work: {forms}"
        )
    if not sep:
        raise ValueError(f"must be a database URL; the forms that work: {forms}")
    raise ValueError(
        f"{scheme}:// is not supported (SQLite and PostgreSQL are); use one of: {forms}"
    )


def _masked(rest: str) -> str:
    """The part of a URL after ``://`` with its password replaced by ***."""
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return rest
    user = credentials.split(":", 1)[0]
    return f"{user}:***@{host}"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventSubSection(_Section):
    transport: Literal["conduit", "websocket"] = "conduit"
    conduit_shards: int = Field(default=1, ge=1, le=20_000)
    keepalive_timeout_seconds: int = Field(default=10, ge=10, le=600)
    reconcile_interval: float = Field(default=60.0, gt=0)
    # The reconcile lock's expiry: renewed every third of it on a timer, so a dead worker
    # holds it at most this long; under 3 s a busy host could miss its own renewals.
    reconcile_lock_seconds: float = Field(default=30.0, ge=3, le=600)
    req_rate_per_s: float = Field(default=10.0, gt=0)
    req_jitter_ms: int = Field(default=200, ge=0)
    ws_backoff_base: float = Field(default=2.0, gt=0)
    ws_backoff_max: float = Field(default=60.0, gt=0)
    # A dead listener's shards are taken over after about this plus lease/4 (renewal and
    # claims run every lease/4); under 0.5 s a busy host could miss its own renewals.
    shard_lease_seconds: float = Field(default=2.0, ge=0.5, le=120)


class TwitchSection(_Section):
    client_id: str = ""
    client_secret: str = Field(default="", repr=False)
    eventsub_ws_url: str = TWITCH_EVENTSUB_WS_URL
    helix_url: str = TWITCH_HELIX_URL
    oauth_url: str = TWITCH_OAUTH_URL

    @field_validator("eventsub_ws_url")
    @classmethod
    def _websocket_scheme(cls, value: str) -> str:
        if not value.startswith(("ws://", "wss://")):
            raise ValueError("must start with ws:// or wss://")
        return value

    @field_validator("helix_url", "oauth_url")
    @classmethod
    def _http_scheme(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def configured(self) -> bool:
        """True when real Twitch credentials are set (else: demo mode on the simulator)."""
        return bool(self.client_id and self.client_secret)


class StreamsSection(_Section):
    maxlen: int = Field(default=10_000, ge=1)
    max_age_seconds: int = Field(default=7 * 24 * 3600, ge=60)


_SIZE_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
               "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}  # fmt: skip


def parse_size(value: object) -> int:
    """Bytes from an int or a text such as ``"1GiB"``, ``"500 MB"`` or ``"1048576"``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "").replace("_", "")
        number = text.rstrip("kmgtib")
        unit = text[len(number) :]
        if number and unit in _SIZE_UNITS:
            try:
                return int(float(number) * _SIZE_UNITS[unit])
            except ValueError:
                pass
    raise ValueError(
        f"{value!r} is not a size (bytes, or a number with B, KB, MB, GB, KiB, MiB, GiB)"
    )


class SpoolSection(_Section):
    """Where the listener keeps the events Redis cannot take (it is down or behind)."""

    # Relative to the working directory; each listener uses <directory>/<listener id>.
    directory: Path = Path(".kiss-spool")
    max_bytes: int = Field(default=2**30, ge=1 << 20)  # 1 GiB; at least 1 MiB

    @field_validator("max_bytes", mode="before")
    @classmethod
    def _size(cls, value: object) -> int:
        return parse_size(value)

    @field_validator("directory")
    @classmethod
    def _not_empty(cls, value: Path) -> Path:
        if str(value) in ("", "."):
            raise ValueError("must name a directory of its own, such as .kiss-spool")
        return value


class SimulatorSection(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*")  # RFC 1123


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KISSBOT_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    redis_url: str = "redis://127.0.0.1:6379/0"
    database_url: str = "sqlite:///kiss-hub.db"
    key_prefix: str = "kiss"
    celery_queue: str = "kiss"
    secret_key_file: Path = Path(".kissbot.key")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: LogFormat = "text"  # json: one object per line (kiss/logs.py)
    metrics_port: int = Field(default=9808, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"  # the metrics ports have no auth: this machine only
    eventsub: EventSubSection = EventSubSection()
    twitch: TwitchSection = TwitchSection()
    streams: StreamsSection = StreamsSection()
    spool: SpoolSection = SpoolSection()
    simulator: SimulatorSection = SimulatorSection()

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    @field_validator("metrics_host")
    @classmethod
    def _metrics_address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if not _HOST_NAME.fullmatch(value):
                raise ValueError(
                    "must be an IP address or a host name: 127.0.0.1 (this machine only, the "
                    "default), 0.0.0.0 (every interface, e.g. in a container), ::1, localhost"
                ) from None
        return value

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str) -> str:
        return check_database_url(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        config_path = Path(os.environ.get("KISSBOT_CONFIG", DEFAULT_CONFIG_PATH))
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        local_run = localrun.active_settings()
        if local_run:
            sources.append(InitSettingsSource(settings_cls, init_kwargs=local_run))
        if config_path.is_file():
            sources.append(_YamlFile(settings_cls, yaml_file=config_path))
        return tuple(sources)


def _seed_environment() -> dict[str, Any]:
    """The seed's variable names, kept so that an old deployment's env still works."""
    overrides: dict[str, Any] = {}
    for name, message in V5_VARIABLES.items():
        if name in os.environ:
            _warn_once((name,), message, "environment")
    db_path = os.environ.get("KISSBOT_DB_PATH")
    if db_path and "KISSBOT_DATABASE_URL" not in os.environ:
        overrides["database_url"] = f"sqlite:///{db_path}"
    return overrides


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"])
        value = item.get("input")
        shown = "<hidden>" if "secret" in key else redact(repr(value))  # URLs' passwords
        problems.append(f"{key}={shown}: {item['msg']}")
    return "; ".join(problems)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings once; a bad value raises ConfigError naming key and value."""
    config_path = Path(os.environ.get("KISSBOT_CONFIG", DEFAULT_CONFIG_PATH))
    if "KISSBOT_CONFIG" in os.environ and not config_path.is_file():
        raise ConfigError(f"KISSBOT_CONFIG={str(config_path)!r}: no such file")
    try:
        return Settings(**{**_seed_environment(), **overrides})
    except ValidationError as error:
        raise ConfigError(f"invalid configuration: {_describe(error)}") from error
    except Exception as error:
        # Imported here: only a config file needs YAML (1 MB of every process's RSS otherwise).
        import yaml

        if isinstance(error, OSError | ValueError | yaml.YAMLError):  # unreadable, not YAML
            raise ConfigError(f"cannot read {config_path}: {error}") from error
        raise
