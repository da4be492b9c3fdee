"""The local run's settings file: what ``kiss run`` chose, for the commands of a second terminal.

``kiss run`` picks a few settings itself (in demo mode the simulator's URLs and its demo
client; the Flower port and, unless given, its generated password). It writes them to
``<state dir>/local-run.json`` (mode 0600) while it runs and removes the file when it stops,
so that ``kiss auth validate`` typed in another terminal of the same directory reaches the
same simulator. Settings are read from the environment first, then this file, then the config
file (kiss/settings.py). A file left by a run that was killed names a process that is gone: it
is ignored.

``KISSBOT_LOCAL_RUN`` names another file (``kiss run --state-dir X`` writes ``X/local-run.json``);
set to an empty value, no file is read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

FILE_NAME = "local-run.json"
DEFAULT_PATH = Path(".kiss-run") / FILE_NAME
PATH_VARIABLE = "KISSBOT_LOCAL_RUN"
_SETTINGS_PREFIX = "KISSBOT_"


def nested(env: Mapping[str, str]) -> dict[str, Any]:
    """``KISSBOT_TWITCH__HELIX_URL=u`` -> ``{"twitch": {"helix_url": u}}``, as the env reads it."""
    tree: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(_SETTINGS_PREFIX):
            continue
        *parents, leaf = name.removeprefix(_SETTINGS_PREFIX).lower().split("__")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def write(state_dir: Path, settings: Mapping[str, Any], run: Mapping[str, Any]) -> Path:
    """Write the file for this process (mode 0600 from its creation); its path."""
    path = state_dir / FILE_NAME
    document = {"pid": os.getpid(), "settings": dict(settings), "run": dict(run)}
    temporary = path.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    temporary.replace(path)
    return path


def remove(path: Path) -> None:
    """Remove the file if this process wrote it (a newer run's file is left alone)."""
    document = _read(path)
    if document is not None and document.get("pid") == os.getpid():
        path.unlink(missing_ok=True)


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _read(path: Path) -> dict[str, Any] | None:
    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return document if isinstance(document, dict) else None


def path_in_use() -> Path | None:
    """Where the commands look for the file (None: looking is switched off)."""
    given = os.environ.get(PATH_VARIABLE)
    if given is None:
        return DEFAULT_PATH
    return Path(given) if given else None


def active_settings() -> dict[str, Any]:
    """The settings of a local run that is still running; empty if there is none."""
    path = path_in_use()
    if path is None:
        return {}
    document = _read(path)
    if document is None or not _alive(document.get("pid")):
        return {}
    settings = document.get("settings")
    return settings if isinstance(settings, dict) else {}
