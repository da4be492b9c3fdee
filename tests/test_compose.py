"""compose.yaml and the Dockerfiles, checked without a Docker engine.

The Compose specification's JSON schema (shipped by check-jsonschema), hadolint on every
Dockerfile, and every command in compose.yaml resolved to an entry point of this project.
"""

from __future__ import annotations

import importlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from kiss.cli import SUBCOMMANDS, main

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "compose.yaml"
BIN = Path(sys.executable).parent
CELERY_SUBCOMMANDS = {"worker", "beat", "flower", "inspect", "call", "status"}
# Programs that third-party images bring, by image name.
IMAGE_PROGRAMS = {
    "redis": {"redis-server", "redis-cli"},
    "postgres": {"pg_isready"},
    "prom/prometheus": {"wget"},
    "grafana/grafana": set(),
}


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def commands(service: dict[str, Any]) -> list[list[str]]:
    """Every argv a service runs: its command and its healthcheck."""
    found = []
    command = service.get("command")
    if command:
        found.append(shlex.split(command) if isinstance(command, str) else list(command))
    test = service.get("healthcheck", {}).get("test")
    if isinstance(test, list) and test and test[0] == "CMD":
        found.append(test[1:])
    elif isinstance(test, list) and test and test[0] == "CMD-SHELL":
        found.append(shlex.split(test[1]))
    return found


def resolve_kiss(argv: list[str]) -> click.Command:
    """The click command that ``kiss <argv>`` runs (subgroups followed)."""
    command: click.Command = main
    with click.Context(main) as context:
        for word in argv:
            if word.startswith("-") or not isinstance(command, click.Group):
                break
            sub = command.get_command(context, word)
            assert sub is not None, f"kiss {' '.join(argv)}: no subcommand {word!r}"
            command = sub
    return command


def check_project_command(argv: list[str]) -> None:
    if argv[:2] == ["sh", "-c"]:  # a shell only to expand $HOSTNAME: check what it execs
        argv = shlex.split(argv[2])
        argv = argv[1:] if argv[0] == "exec" else argv
    program = argv[0]
    if program == "kiss":
        assert argv[1] in SUBCOMMANDS, f"{argv}: 'kiss {argv[1]}' is not in kiss/cli SUBCOMMANDS"
        command = resolve_kiss(argv[1:])
        known = {opt for param in command.params for opt in param.opts}
        for word in argv[1:]:
            if word.startswith("--"):
                assert word.split("=")[0] in known, f"{argv}: {command.name} has no {word}"
    elif program == "celery":
        module = argv[argv.index("-A") + 1]
        app = importlib.import_module(module).app
        assert type(app).__name__ == "Celery", f"{module}.app is not a Celery app"
        subcommand = argv[argv.index("-A") + 2]
        assert subcommand in CELERY_SUBCOMMANDS, f"{argv}: unknown celery subcommand"
    elif program == "python":
        assert argv[1] == "-c", f"{argv}: python runs only inline checks here"
    else:
        pytest.fail(f"{argv}: {program!r} is no entry point of this project")


def test_compose_file_follows_the_compose_specification() -> None:
    result = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "dockerfile",
    sorted(p for p in (ROOT / "docker").glob("Dockerfile*") if p.suffix != ".dockerignore"),
    ids=str,
)
def test_dockerfile_passes_hadolint(dockerfile: Path) -> None:
    result = subprocess.run(
        [str(BIN / "hadolint"), str(dockerfile)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_command_names_an_entry_point_that_exists() -> None:
    services = compose()["services"]
    checked = 0
    for name, service in services.items():
        for argv in commands(service):
            if "build" in service:
                check_project_command(argv)
            else:
                image = service["image"].rsplit(":", 1)[0].removesuffix("-alpine")
                allowed = IMAGE_PROGRAMS[image]
                assert argv[0] in allowed or "=" in argv[0], f"{name}: {argv[0]!r} not in {image}"
            checked += 1
    assert checked >= 10


def test_the_image_entrypoint_is_shipped_and_executable() -> None:
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert "docker/entrypoint.sh /usr/local/bin/kiss-entrypoint" in dockerfile
    entrypoint = ROOT / "docker" / "entrypoint.sh"
    assert entrypoint.stat().st_mode & 0o111
    subprocess.run(["sh", "-n", str(entrypoint)], check=True)


def test_only_flower_metrics_and_grafana_are_published_and_only_on_kiss_bind() -> None:
    published = {
        name: service["ports"]
        for name, service in compose()["services"].items()
        if service.get("ports")
    }
    assert set(published) == {"flower", "listener", "grafana"}
    assert "grafana" in {n for n, s in compose()["services"].items() if s.get("profiles")}
    for ports in published.values():
        for port in ports:
            assert port.startswith("${KISS_BIND:-127.0.0.1}:"), port


def test_services_wait_for_healthy_dependencies_and_restart_on_failure() -> None:
    services = compose()["services"]
    for name, service in services.items():
        if name != "migrate":
            assert service.get("restart") == "on-failure", name
        for dependency, rule in service.get("depends_on", {}).items():
            assert rule["condition"] in {"service_healthy", "service_completed_successfully"}
            target = services[dependency]
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in target, f"{name} waits on {dependency}, which has none"


def test_redis_has_a_password_and_aof_persistence() -> None:
    redis = compose()["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--requirepass ${REDIS_PASSWORD:?" in command
    assert "--appendonly yes" in command


def test_redis_runs_through_its_images_entrypoint_which_drops_to_the_redis_user() -> None:
    # The official image's docker-entrypoint.sh switches to the redis user only when the
    # command starts with redis-server; `sh -c 'exec redis-server'` would run it as root.
    redis = compose()["services"]["redis"]
    assert redis["command"][0] == "redis-server"
    assert "entrypoint" not in redis and "user" not in redis


def test_the_postgresql_healthcheck_asks_over_tcp() -> None:
    # During its first start the image serves the unix socket only, from a temporary server.
    test = compose()["services"]["postgres"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "pg_isready"]
    assert test[test.index("-h") + 1] == "127.0.0.1"
    assert test[test.index("-U") + 1] == "kiss" and test[test.index("-d") + 1] == "kiss"


def test_the_listener_spools_to_a_volume_it_may_write() -> None:
    listener = compose()["services"]["listener"]
    directory = listener["environment"]["KISSBOT_SPOOL__DIRECTORY"]
    assert f"listener-spool:{directory}" in listener["volumes"]
    assert "kiss-secrets:/var/lib/kiss" in listener["volumes"]  # the hub's volumes kept
    assert "KISSBOT_REDIS_URL" in listener["environment"]  # and the hub's environment
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    assert re.search(rf"install -d -o kiss -g kiss -m 700 .*{directory}", dockerfile)


def test_the_migration_waits_for_the_database_within_a_bound() -> None:
    command = compose()["services"]["migrate"]["command"]
    assert command[:3] == ["kiss", "db", "upgrade"]
    seconds = float(command[command.index("--wait-for-database") + 1])
    assert 10 <= seconds <= 300


def _seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", text)
    assert match, text
    return float(match.group(1)) * units[match.group(2)]


@pytest.mark.parametrize("name", ["worker", "control", "listener"])
def test_what_the_bots_wait_on_is_found_healthy_within_seconds(name: str) -> None:
    """The bots start once these are healthy: their first check must not wait a whole interval."""
    check = compose()["services"][name]["healthcheck"]
    assert _seconds(check["start_interval"]) <= 2
    assert _seconds(check["start_period"]) >= 20  # the checks while it starts do not count
    assert _seconds(check["interval"]) <= 10


def test_every_required_variable_has_a_line_in_the_env_example() -> None:
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE.read_text()))
    example = (ROOT / "docker" / "env.example").read_text()
    defined = set(re.findall(r"^(\w+)=", example, flags=re.MULTILINE))
    assert required
    assert required <= defined, required - defined


def _defined_metrics() -> set[str]:
    """Metric names the project defines (Prometheus adds _total, _bucket... to some)."""
    names: set[str] = set()
    for path in [*(ROOT / "kiss").rglob("*.py"), *(ROOT / "workers").rglob("*.py")]:
        names.update(re.findall(r"\"(kiss_[a-z_]+)\"", path.read_text()))
    return names


def test_the_grafana_dashboard_queries_only_metrics_the_hub_exports() -> None:
    dashboard = json.loads((ROOT / "docker/grafana/dashboards/kiss-eventsub-hub.json").read_text())
    defined = _defined_metrics()
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bkiss_[a-z_]+", target["expr"])
    }
    assert queried
    suffixes = ("_total", "_bucket", "_sum", "_count")
    unknown = {
        name
        for name in queried
        if name not in defined and not any(name.removesuffix(s) in defined for s in suffixes)
    }
    assert not unknown, f"the dashboard queries metrics nobody exports: {sorted(unknown)}"
    datasource = (ROOT / "docker/grafana/provisioning/datasources/prometheus.yml").read_text()
    assert all(panel["datasource"]["uid"] in datasource for panel in dashboard["panels"])
