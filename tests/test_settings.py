"""Settings: YAML file, then KISSBOT_* variables over it; bad values name key and value."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from kiss.errors import ConfigError
from kiss.settings import load_settings
from tests.v5seed import V5_CONFIG


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("KISSBOT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no config/config.yaml here unless a test writes one


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hub.yaml"
    path.write_text(text)
    return path


def test_defaults_are_the_embedded_ones() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///kiss-hub.db"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.eventsub.reconcile_interval == 60
    assert settings.eventsub.reconcile_lock_seconds == 30
    assert settings.eventsub.req_jitter_ms == 200
    assert settings.eventsub.ws_backoff_base == 2
    assert settings.eventsub.ws_backoff_max == 60
    assert not settings.twitch.configured


def test_yaml_file_named_by_kissbot_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        "eventsub:\n  reconcile_interval: 30\n  req_rate_per_s: 2\n",
    )
    monkeypatch.setenv("KISSBOT_CONFIG", str(path))
    settings = load_settings()
    assert settings.eventsub.reconcile_interval == 30
    assert settings.eventsub.req_rate_per_s == 2


def test_default_config_path_is_read(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text("log_level: DEBUG\n")
    assert load_settings().log_level == "DEBUG"


def test_environment_overrides_yaml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write_config(tmp_path, "eventsub:\n  reconcile_interval: 30\n  ws_backoff_max: 10\n")
    monkeypatch.setenv("KISSBOT_CONFIG", str(path))
    monkeypatch.setenv("KISSBOT_EVENTSUB__RECONCILE_INTERVAL", "5")
    monkeypatch.setenv("KISSBOT_TWITCH__HELIX_URL", "http://127.0.0.1:8080/helix/")
    settings = load_settings()
    assert settings.eventsub.reconcile_interval == 5
    assert settings.eventsub.ws_backoff_max == 10  # untouched keys keep the file's value
    assert settings.twitch.helix_url == "http://127.0.0.1:8080/helix"


def test_seed_db_path_variable_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KISSBOT_DB_PATH", "/var/lib/kiss/kissbot.db")
    assert load_settings().database_url == "sqlite:////var/lib/kiss/kissbot.db"


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("KISSBOT_EVENTSUB__RECONCILE_INTERVAL", "soon", "eventsub.reconcile_interval='soon'"),
        ("KISSBOT_EVENTSUB__REQ_RATE_PER_S", "-1", "eventsub.req_rate_per_s='-1'"),
        ("KISSBOT_EVENTSUB__RECONCILE_LOCK_SECONDS", "1", "eventsub.reconcile_lock_seconds='1'"),
        ("KISSBOT_EVENTSUB__TRANSPORT", "carrier-pigeon", "eventsub.transport='carrier-pigeon'"),
        ("KISSBOT_REDIS_URL", "localhost:6379", "redis_url='localhost:6379'"),
        ("KISSBOT_TWITCH__EVENTSUB_WS_URL", "http://x/ws", "twitch.eventsub_ws_url='http://x/ws'"),
    ],
)
def test_bad_value_names_key_and_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert named in str(raised.value)


def test_unknown_key_in_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write_config(tmp_path, "eventsub:\n  reconcile_intervall: 30\n")
    monkeypatch.setenv("KISSBOT_CONFIG", str(path))
    with pytest.raises(ConfigError, match="reconcile_intervall"):
        load_settings()


def test_missing_config_file_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KISSBOT_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match="no such file"):
        load_settings()


def test_unparsable_yaml_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = write_config(tmp_path, "eventsub: [unclosed\n")
    monkeypatch.setenv("KISSBOT_CONFIG", str(path))
    with pytest.raises(ConfigError, match=r"hub\.yaml"):
        load_settings()


def test_secrets_are_hidden_from_errors_and_repr(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KISSBOT_TWITCH__CLIENT_SECRET", "s3cr3t-value")
    settings = load_settings()
    assert "s3cr3t-value" not in repr(settings)
    assert settings.twitch.client_secret == "s3cr3t-value"

    path = tmp_path / "bad.yaml"
    path.write_text("twitch:\n  client_secret: [s3cr3t-value]\n")
    monkeypatch.setenv("KISSBOT_CONFIG", str(path))
    monkeypatch.delenv("KISSBOT_TWITCH__CLIENT_SECRET")
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert "twitch.client_secret=<hidden>" in str(raised.value)
    assert "s3cr3t" not in str(raised.value)


def test_metrics_listen_on_this_machine_only_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().metrics_host == "127.0.0.1"
    monkeypatch.setenv("KISSBOT_METRICS_HOST", "0.0.0.0")
    assert load_settings().metrics_host == "0.0.0.0"


@pytest.mark.parametrize("value", ["0.0.0.0:9808", "http://0.0.0.0", "", "a b", "::1]"])
def test_a_bad_metrics_host_is_named(value: str) -> None:
    with pytest.raises(ConfigError, match=r"metrics_host.*IP address or a host name"):
        load_settings(metrics_host=value)


def test_log_format_is_text_or_json(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().log_format == "text"
    monkeypatch.setenv("KISSBOT_LOG_FORMAT", "json")
    assert load_settings().log_format == "json"
    monkeypatch.setenv("KISSBOT_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="log_format='xml'"):
        load_settings()


def test_the_seeds_config_yaml_is_accepted_with_one_warning_per_v5_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from kiss import settings as module

    monkeypatch.setattr(module, "_warned", set())  # a fresh process
    path = write_config(tmp_path, V5_CONFIG)
    monkeypatch.setenv("KISSBOT_CONFIG", str(path))
    with caplog.at_level(logging.WARNING, logger="kiss.settings"):
        settings = load_settings()
        load_settings()  # read again in the same process: no second warning
    assert settings.eventsub.req_rate_per_s == 2
    assert settings.eventsub.reconcile_interval == 60
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 2, warnings
    socket_path, enabled = sorted(warnings, key=lambda text: "socket_path" not in text)
    assert "eventsub.hub.socket_path" in socket_path and "Redis stream" in socket_path
    assert "eventsub.hub.enabled" in enabled and "direct mode" in enabled
    assert not hasattr(settings.eventsub, "hub")  # parsed by nothing: not a setting any more


def test_a_top_level_list_names_the_file_and_says_mapping(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = write_config(tmp_path, "- redis_url: redis://x\n- log_level: INFO\n")
    monkeypatch.setenv("KISSBOT_CONFIG", str(path))
    with pytest.raises(ConfigError, match=r"hub\.yaml: the top level must be a mapping"):
        load_settings()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgres://kiss:pw@db/kiss", "use postgresql+psycopg://kiss:***@db/kiss"),
        ("postgresql://kiss@db/kiss", "use postgresql+psycopg://kiss@db/kiss"),
        ("mysql://kiss:pw@db/kiss", "mysql:// is not supported"),
        ("kiss-hub.db", "must be a database URL"),
    ],
)
def test_database_urls_the_hub_cannot_open_name_the_forms_that_work(url: str, says: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(database_url=url)
    message = str(raised.value)
    assert says in message and "sqlite:///" in message and "postgresql+psycopg://" in message
    assert ":pw@" not in message


@pytest.mark.parametrize(
    "url", ["sqlite:///kiss-hub.db", "sqlite:////var/lib/kiss.db", "postgresql+psycopg://u@h/d"]
)
def test_database_urls_the_hub_opens(url: str) -> None:
    assert load_settings(database_url=url).database_url == url


def test_the_seeds_hub_socket_variable_warns_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from kiss import settings as module

    monkeypatch.setattr(module, "_warned", set())
    monkeypatch.setenv("KISSBOT_HUB_SOCKET", "/tmp/kissbot_hub.sock")
    with caplog.at_level(logging.WARNING, logger="kiss.settings"):
        load_settings()
        load_settings()
    [warning] = [record.getMessage() for record in caplog.records]
    assert "KISSBOT_HUB_SOCKET" in warning and "Redis stream" in warning
