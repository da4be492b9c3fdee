"""HelixConfig: what the Helix layer takes of the settings; the layer imports no database code."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import kiss.helix
from kiss.auth.credentials import DEMO_CLIENT_ID
from kiss.helix.config import HelixConfig
from kiss.settings import EventSubSection, Settings, TwitchSection


def test_built_from_the_settings_with_only_what_helix_needs() -> None:
    settings = Settings(
        key_prefix="hub7",
        twitch=TwitchSection(
            helix_url="http://127.0.0.1:9/helix", client_id="cid", client_secret="not-kept"
        ),
        eventsub=EventSubSection(req_rate_per_s=3.5, req_jitter_ms=7),
    )
    config = HelixConfig.from_settings(settings)
    assert config == HelixConfig(
        helix_url="http://127.0.0.1:9/helix",
        client_id="cid",
        key_prefix="hub7",
        req_rate_per_s=3.5,
        req_jitter_ms=7,
    )
    assert "not-kept" not in repr(config)  # the secret is not Helix's business


def test_unconfigured_twitch_uses_the_demo_client_id() -> None:
    assert HelixConfig.from_settings(Settings()).client_id == DEMO_CLIENT_ID


def test_frozen() -> None:
    config = HelixConfig.from_settings(Settings())
    with pytest.raises(AttributeError):
        config.helix_url = "elsewhere"  # type: ignore[misc]


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_helix_layer_imports_neither_the_store_nor_runtime_settings() -> None:
    folder = Path(kiss.helix.__file__).parent
    for path in sorted(folder.glob("*.py")):
        imported = _imported_modules(path)
        store = sorted(name for name in imported if name.startswith("kiss.store"))
        assert not store, f"{path.name} imports the database layer: {store}"
        if path.name != "config.py":  # from_settings is the one place that reads Settings
            settings = sorted(name for name in imported if name.startswith("kiss.settings"))
            assert not settings, f"{path.name} imports {settings}: take a HelixConfig instead"
