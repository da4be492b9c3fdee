"""The supervisor against real child processes (small ``python -c`` programs)."""

from __future__ import annotations

import asyncio
import io
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

import kiss
from kiss.errors import StartupFailed
from kiss.supervisor.backoff import RestartPolicy
from kiss.supervisor.runner import StartupAborted, Supervisor
from kiss.supervisor.spec import ProcessSpec

PY = sys.executable
FAST = RestartPolicy(base=0.05, factor=2.0, maximum=0.2, stable_after=60.0)


async def until(condition: Callable[[], bool], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def py(code: str) -> tuple[str, ...]:
    return (PY, "-c", code)


def supervisor(out: io.StringIO, **kwargs: object) -> Supervisor:
    return Supervisor(out=out, stop_requested=asyncio.Event(), policy=FAST, **kwargs)  # type: ignore[arg-type]


async def test_starts_in_order_waiting_for_readiness(tmp_path: Path) -> None:
    flag = tmp_path / "ready"
    out = io.StringIO()
    sup = supervisor(out)
    first = py(
        f"import time,pathlib; time.sleep(0.3); pathlib.Path({str(flag)!r}).touch(); time.sleep(60)"
    )
    second = py(
        f"import pathlib,time; print('saw', pathlib.Path({str(flag)!r}).exists()); time.sleep(60)"
    )
    await sup.start(ProcessSpec("first", first, ready=flag.exists))
    await sup.start(ProcessSpec("second", second))
    await until(lambda: "second     | saw" in out.getvalue())
    await sup.stop()
    assert "second     | saw True" in out.getvalue()


async def test_output_lines_are_prefixed_with_the_process_name() -> None:
    out = io.StringIO()
    sup = supervisor(out)
    await sup.start(
        ProcessSpec(
            "talker",
            py("import sys,time; print('hello'); print('oops', file=sys.stderr); time.sleep(60)"),
        )
    )
    await until(lambda: "talker     | oops" in out.getvalue())
    await sup.stop()
    lines = out.getvalue().splitlines()
    assert "talker     | hello" in lines
    assert "talker     | oops" in lines
    assert "run        | all processes stopped" in lines


async def test_a_crashed_process_is_restarted_with_backoff(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    out = io.StringIO()
    sup = supervisor(out)
    crasher = py(f"open({str(runs)!r}, 'a').write('x'); raise SystemExit(3)")
    await sup.start(ProcessSpec("crasher", crasher))
    await until(lambda: "restarting in 0.2s" in out.getvalue())
    await sup.stop()
    text = out.getvalue()
    assert "crasher exited with code 3; restarting in 0.1s" in text
    assert len(runs.read_text()) >= 3


async def test_stop_leaves_no_process_behind_not_even_grandchildren(tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild"
    out = io.StringIO()
    sup = supervisor(out)
    parent = py(
        "import subprocess,sys,time,pathlib;"
        "p=subprocess.Popen([sys.executable,'-c','import time; time.sleep(60)']);"
        f"pathlib.Path({str(pidfile)!r}).write_text(str(p.pid)); time.sleep(60)"
    )
    await sup.start(ProcessSpec("parent", parent, ready=pidfile.exists))
    await until(lambda: pidfile.exists() and pidfile.read_text() != "")
    child_pid = sup.pids["parent"]
    grandchild_pid = int(pidfile.read_text())
    await sup.stop()
    assert gone(child_pid)
    await until(lambda: gone(grandchild_pid))
    assert sup.pids == {}


async def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period(
    tmp_path: Path,
) -> None:
    armed = tmp_path / "armed"
    out = io.StringIO()
    sup = supervisor(out, stop_grace=0.3)
    stubborn = py(
        "import signal,time,pathlib; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
        f"pathlib.Path({str(armed)!r}).touch(); time.sleep(60)"
    )
    await sup.start(ProcessSpec("stubborn", stubborn, ready=armed.exists))
    pid = sup.pids["stubborn"]
    await sup.stop()
    assert gone(pid)
    assert "stubborn ignored SIGTERM; killed it" in out.getvalue()


async def test_processes_stop_in_reverse_start_order() -> None:
    out = io.StringIO()
    sup = supervisor(out)
    for name in ("one", "two", "three"):
        await sup.start(ProcessSpec(name, py("import time; time.sleep(60)")))
    await sup.stop()
    stops = [
        line.split("stopping ")[1] for line in out.getvalue().splitlines() if "stopping " in line
    ]
    assert stops == ["three", "two", "one"]


async def test_a_failed_oneshot_step_stops_the_startup() -> None:
    out = io.StringIO()
    sup = supervisor(out)
    await sup.start(ProcessSpec("migrate", py("print('migrated')"), oneshot=True))
    with pytest.raises(StartupFailed, match=r"broken .* exited with code 2"):
        await sup.start(ProcessSpec("broken", py("raise SystemExit(2)"), oneshot=True))
    await sup.stop()
    assert "migrate    | migrated" in out.getvalue()


async def test_a_process_never_ready_fails_the_startup_with_its_name() -> None:
    out = io.StringIO()
    sup = supervisor(out)
    with pytest.raises(StartupFailed, match="lazy was not ready"):
        await sup.start(
            ProcessSpec(
                "lazy", py("import time; time.sleep(60)"), ready=lambda: False, ready_timeout=0.3
            )
        )
    await sup.stop()
    assert sup.pids == {}


async def test_a_missing_program_is_a_clear_startup_error() -> None:
    sup = supervisor(io.StringIO())
    with pytest.raises(StartupFailed, match="cannot start ghost"):
        await sup.start(ProcessSpec("ghost", ("/nonexistent/kiss-ghost",)))
    await sup.stop()


async def test_a_stop_request_aborts_a_startup_that_waits_for_readiness() -> None:
    stop = asyncio.Event()
    sup = Supervisor(out=io.StringIO(), stop_requested=stop, policy=FAST)
    asyncio.get_running_loop().call_later(0.2, stop.set)
    with pytest.raises(StartupAborted):
        await sup.start(ProcessSpec("slow", py("import time; time.sleep(60)"), ready=lambda: False))
    await sup.stop()
    assert sup.pids == {}


def test_children_die_when_the_supervisor_is_killed_outright(tmp_path: Path) -> None:
    pidfile = tmp_path / "child"
    child = tmp_path / "child.py"
    child.write_text(
        f"import os, pathlib, time\npathlib.Path({str(pidfile)!r}).write_text(str(os.getpid()))\n"
        "time.sleep(60)\n"
    )
    host = tmp_path / "host.py"
    host.write_text(
        "import asyncio, sys\n"
        "from kiss.supervisor.runner import Supervisor\n"
        "from kiss.supervisor.spec import ProcessSpec\n"
        "async def main():\n"
        "    sup = Supervisor(out=sys.stdout, stop_requested=asyncio.Event())\n"
        f"    await sup.start(ProcessSpec('c', ({PY!r}, {str(child)!r})))\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    root = str(Path(kiss.__file__).parent.parent)
    process = psutil.Popen([PY, str(host)], env={**os.environ, "PYTHONPATH": root})
    try:
        deadline = time.monotonic() + 10
        while not (pidfile.exists() and pidfile.read_text()):
            assert time.monotonic() < deadline, "the child never started"
            time.sleep(0.02)
        child_pid = int(pidfile.read_text())
        process.kill()
        process.wait()
        deadline = time.monotonic() + 10
        while not gone(child_pid):
            assert time.monotonic() < deadline, "child outlived its supervisor"
            time.sleep(0.02)
    finally:
        if process.is_running():
            process.kill()


async def test_a_token_printed_by_a_child_is_masked() -> None:
    out = io.StringIO()
    sup = supervisor(out)
    leaky = py("import time; print('Authorization: Bearer abcdef123456'); time.sleep(60)")
    await sup.start(ProcessSpec("leaky", leaky))
    await until(lambda: "leaky      | Authorization" in out.getvalue())
    await sup.stop()
    assert "abcdef123456" not in out.getvalue()


async def test_a_process_that_stays_unhealthy_is_restarted(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    out = io.StringIO()
    sup = supervisor(out, health_interval=0.05)
    hung = py(f"import time; open({str(runs)!r}, 'a').write('x'); time.sleep(60)")
    spec = ProcessSpec("hung", hung, healthy=lambda: False, unhealthy_after=0.2)
    await sup.start(spec)
    await until(lambda: runs.exists() and len(runs.read_text()) >= 2)
    await sup.stop()
    assert "hung has been unhealthy for 0s (no heartbeat); restarting it" in out.getvalue()
    assert "hung exited with code -15; restarting in 0.1s" in out.getvalue()


async def test_a_healthy_or_unknown_verdict_restarts_nothing(tmp_path: Path) -> None:
    checks: list[int] = []

    def flaky() -> bool:
        checks.append(1)
        if len(checks) % 2:
            raise ConnectionError("redis is restarting")
        return True

    out = io.StringIO()
    sup = supervisor(out, health_interval=0.02)
    await sup.start(
        ProcessSpec("fine", py("import time; time.sleep(60)"), healthy=flaky, unhealthy_after=0.05)
    )
    pid = sup.pids["fine"]
    await until(lambda: len(checks) >= 10)
    assert sup.pids["fine"] == pid
    await sup.stop()
    assert "cannot check fine's health: redis is restarting" in out.getvalue()
    assert "restarting" not in out.getvalue().replace("redis is restarting", "")


async def test_a_program_gone_at_restart_time_is_retried_with_backoff(tmp_path: Path) -> None:
    program = tmp_path / "vanishing.py"
    program.write_text(f"#!{PY}\nimport os\nos.remove({str(program)!r})\nraise SystemExit(1)\n")
    program.chmod(0o755)
    out = io.StringIO()
    sup = supervisor(out)
    await sup.start(ProcessSpec("vanishing", (str(program),)))
    await until(lambda: out.getvalue().count("cannot restart vanishing") >= 2)
    await sup.stop()
    assert "vanishing exited with code 1; restarting in 0.1s" in out.getvalue()
    assert "restarting in 0.2s" in out.getvalue()
