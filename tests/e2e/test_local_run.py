"""The local run end to end: ``kiss run`` from a clean state, in demo mode, as a newcomer runs it.

Events reach an example bot; ``kiss status --json`` says so; Flower's HTTP API shows the
reconcile task; a resync sent with the celery CLI shows in Flower; Ctrl-C stops everything
and no process is left behind.
"""

from __future__ import annotations

import json
import queue
import signal
import stat
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest
import requests

import kiss
from tests.ports import free_ports
from tests.waiting import wait_for

ROOT = Path(kiss.__file__).resolve().parent.parent
FLOWER_AUTH = ("kiss", "e2e-" + uuid.uuid4().hex[:8])
T = TypeVar("T")

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def eventually(probe: Callable[[], T | None], what: str, within: float = 120.0) -> T:
    """``wait_for``, checking twice a second (a probe may run a ``kiss`` command)."""
    return wait_for(probe, within, what, interval=0.5)


class Output:
    """Lines of the local run's interleaved log, read in a thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        self._thread = threading.Thread(target=self._pump, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self._queue.put(line.rstrip("\n"))

    def find(self, predicate: Callable[[str], bool]) -> str | None:
        while not self._queue.empty():
            self.lines.append(self._queue.get())
        return next((line for line in self.lines if predicate(line)), None)

    def tail(self, count: int = 80) -> str:
        self.find(lambda _line: False)
        return "\n".join(self.lines[-count:])


@pytest.fixture
def local_run(
    tmp_path: Path, hub_env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[str], Output, int]]:
    (flower_port,) = free_ports(1)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kiss",
            "run",
            "--flower-port",
            str(flower_port),
            "--flower-auth",
            ":".join(FLOWER_AUTH),
            # The default state directory (.kiss-run), where a second terminal finds the settings.
            "--bots",
            "2",
            "--rate",
            "4",
        ],
        cwd=tmp_path,
        env=hub_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(process)
    try:
        yield process, output, flower_port
    finally:
        if process.poll() is None:
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.kill()
        process.wait()


def kiss_cli(
    env: dict[str, str], *args: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiss", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def scrape(port: int) -> str:
    try:
        return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except requests.RequestException:
        return ""


def flower(port: int, path: str) -> Any:
    try:
        answer = requests.get(f"http://127.0.0.1:{port}{path}", auth=FLOWER_AUTH, timeout=5)
    except requests.RequestException:
        return None
    return answer.json() if answer.status_code == 200 else None


def test_the_local_run_delivers_events_and_stops_cleanly(
    local_run: tuple[subprocess.Popen[str], Output, int], hub_env: dict[str, str], tmp_path: Path
) -> None:
    process, output, flower_port = local_run
    try:
        # 1. An event reaches an example bot (the bot logs one line per event).
        eventually(
            lambda: output.find(
                lambda line: line.startswith("bot-") and " channel.follow: " in line
            ),
            "an event at an example bot",
            within=150,
        )
        assert process.poll() is None, output.tail()

        # 2. `kiss status --json` says the hub is up, and shows the bots with their channels.
        def status() -> dict[str, Any] | None:
            done = kiss_cli(hub_env, "status", "--json")
            assert done.returncode == 0, done.stdout + done.stderr
            document: dict[str, Any] = json.loads(done.stdout)
            routed = document["counters"].get("events_routed", 0)
            bots = [bot for channel in document["channels"] for bot in channel["bots"]]
            return document if document["up"] and routed > 0 and len(bots) >= 2 else None

        document = eventually(status, "kiss status --json to show the hub up with two bots")
        assert document["active"] > 0
        assert document["transport"] == "conduit"

        # A second terminal in the same directory, with none of the run's settings in its
        # environment, reaches the simulator through the run's settings file.
        run_file = tmp_path / ".kiss-run" / "local-run.json"
        assert stat.S_IMODE(run_file.stat().st_mode) == 0o600
        chosen = json.loads(run_file.read_text())
        assert chosen["run"]["simulator_url"].startswith("http://127.0.0.1:")
        assert FLOWER_AUTH[1] not in run_file.read_text()  # given, not generated: not written
        validated = kiss_cli(hub_env, "auth", "validate", cwd=tmp_path)
        assert validated.returncode == 0, validated.stdout + validated.stderr
        assert "user:" in validated.stdout.split(";")[0], validated.stdout  # the demo tokens

        # 3. Flower's HTTP API shows that the reconcile task ran.
        eventually(
            lambda: [
                task
                for task in (
                    flower(flower_port, "/api/tasks?taskname=kiss.reconcile") or {}
                ).values()
                if task.get("state") == "SUCCESS"
            ],
            "a successful kiss.reconcile in Flower",
        )

        # 4. A resync sent with the celery CLI shows up in Flower.
        sent = subprocess.run(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "workers.celery_app",
                "call",
                "kiss.resync",
                "--queue",
                hub_env["KISSBOT_CELERY_QUEUE"],
            ],
            env=hub_env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert sent.returncode == 0, sent.stdout + sent.stderr
        task_id = sent.stdout.strip().splitlines()[-1]
        eventually(
            lambda: (
                (flower(flower_port, f"/api/task/info/{task_id}") or {}).get("state") == "SUCCESS"
            ),
            f"the resync {task_id} in Flower",
        )
        # ... and so does one from `kiss resync`.
        resynced = kiss_cli(hub_env, "resync", "--wait", "60")
        assert resynced.returncode == 0, resynced.stdout + resynced.stderr
        resync_id = resynced.stdout.split("as task ")[1].split()[0]
        eventually(
            lambda: (
                (flower(flower_port, f"/api/task/info/{resync_id}") or {}).get("state") == "SUCCESS"
            ),
            f"the resync {resync_id} in Flower",
        )

        # A channel added from the CLI goes through the control plane to Twitch.
        added = kiss_cli(
            hub_env, "channels", "add", "4242", "--name", "extra", "--type", "stream.online"
        )
        assert added.returncode == 0, added.stdout + added.stderr

        def extra_channel_active() -> list[Any] | None:
            listed = kiss_cli(hub_env, "subscriptions", "--channel", "4242", "--json")
            rows: list[Any] = json.loads(listed.stdout)
            return rows if rows and rows[0]["state"] == "active" else None

        eventually(extra_channel_active, "the CLI-added subscription to become active")

        # 5. Liveness as data and the Prometheus endpoints of the listener and the worker.
        checked = kiss_cli(hub_env, "check", "listener", "control", "worker")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        metrics_port = int(hub_env["KISSBOT_METRICS_PORT"])
        listener_metrics = scrape(metrics_port)
        assert "kiss_listener_events_total" in listener_metrics

        def worker_scrape() -> str | None:
            text = scrape(metrics_port + 1)
            return text if 'task="kiss.reconcile"' in text else None

        worker_metrics = eventually(worker_scrape, "the worker's task metrics")
        assert 'kiss_desired_subscriptions{state="active"}' in worker_metrics
        assert "kiss_helix_requests_total" in worker_metrics
    except AssertionError:
        print(output.tail(200))
        raise

    # 6. Ctrl-C stops everything; no process is left behind.
    children = psutil.Process(process.pid).children(recursive=True)
    assert len(children) >= 8, [child.name() for child in children]
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=90) == 0, output.tail()
    _gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [(p.pid, p.cmdline()) for p in alive]
    assert output.find(lambda line: "all processes stopped" in line)
    assert not run_file.exists()  # the second terminal's commands no longer read it
