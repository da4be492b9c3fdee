"""The asyncio adapter that owns the child processes.

Every child runs in its own process group (its own session), so that a Ctrl-C in the
terminal reaches only the supervisor, which then stops the children in reverse start order,
and so that a child's own children (Celery's pool, say) are stopped with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from kiss.errors import KissError, StartupFailed
from kiss.logs import redact
from kiss.supervisor.backoff import CrashHistory, RestartPolicy
from kiss.supervisor.logs import format_line
from kiss.supervisor.spec import ProcessSpec

_PR_SET_PDEATHSIG = 1
_READY_POLL_SECONDS = 0.2


class StartupAborted(KissError):
    """A stop was requested while the processes were still starting."""


def _die_with_parent() -> None:
    """Runs in the child before exec: if the supervisor is killed outright, so is the child."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


@dataclass
class _Child:
    spec: ProcessSpec
    history: CrashHistory
    process: asyncio.subprocess.Process | None = None
    task: asyncio.Task[None] | None = None
    pumps: set[asyncio.Task[None]] = field(default_factory=set)


class Supervisor:
    """Start processes one by one, keep them running, stop them all.

    ``stop_requested`` is set by the caller (a signal handler); ``start`` gives up when it is,
    and ``wait`` returns.
    """

    def __init__(
        self,
        *,
        out: TextIO,
        stop_requested: asyncio.Event,
        policy: RestartPolicy | None = None,
        stop_grace: float = 10.0,
        health_interval: float = 5.0,
        colour: bool = False,
        name_width: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._out = out
        self._stop_requested = stop_requested
        self._policy = policy or RestartPolicy()
        self._stop_grace = stop_grace
        self._health_interval = health_interval
        self._colour = colour
        self._width = name_width
        self._clock = clock
        self._children: list[_Child] = []
        self._stopping = asyncio.Event()

    # -- output -----------------------------------------------------------------
    def say(self, message: str) -> None:
        """A line of the supervisor's own, prefixed like the children's."""
        self._write("run", message)

    def _write(self, name: str, line: str) -> None:
        # Children mask their own secrets; this is the backstop for a library's raw print.
        text = format_line(name, redact(line), width=self._width, colour=self._colour)
        self._out.write(text + "\n")
        self._out.flush()

    async def _pump(self, name: str, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self._write(name, line.decode(errors="replace"))

    # -- processes ----------------------------------------------------------------
    @property
    def pids(self) -> dict[str, int]:
        """Main pid of every running child, by name."""
        return {
            child.spec.name: child.process.pid
            for child in self._children
            if child.process is not None and child.process.returncode is None
        }

    async def _spawn(self, child: _Child) -> asyncio.subprocess.Process:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **child.spec.env}
        process = await asyncio.create_subprocess_exec(
            *child.spec.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        child.process = process
        assert process.stdout is not None
        pump = asyncio.create_task(self._pump(child.spec.name, process.stdout))
        child.pumps.add(pump)
        pump.add_done_callback(child.pumps.discard)
        return process

    async def _reap(self, child: _Child, process: asyncio.subprocess.Process) -> int:
        """Wait for the main process, then kill what it left in its group, then drain output."""
        code = await process.wait()
        _signal_group(process.pid, signal.SIGKILL)
        if child.pumps:
            await asyncio.wait(set(child.pumps), timeout=5.0)
        return code

    async def _terminate(self, process: asyncio.subprocess.Process) -> bool:
        """SIGTERM the process group, SIGKILL after the grace period; False if it took a kill."""
        _signal_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=self._stop_grace)
        except TimeoutError:
            _signal_group(process.pid, signal.SIGKILL)
            return False
        return True

    async def _healthy(self, spec: ProcessSpec) -> bool | None:
        """The liveness verdict, or None when it cannot be told (Redis down, say)."""
        assert spec.healthy is not None
        try:
            return await asyncio.to_thread(spec.healthy)
        except Exception as error:  # an unknown verdict restarts nothing
            self.say(f"cannot check {spec.name}'s health: {error}")
            return None

    async def _watch(self, spec: ProcessSpec, process: asyncio.subprocess.Process) -> None:
        """Restart a process whose liveness check keeps failing (it hangs, or lost Redis)."""
        failing_since: float | None = None
        while process.returncode is None and not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), self._health_interval)
            if process.returncode is not None or self._stopping.is_set():
                return
            verdict = await self._healthy(spec)
            if verdict is None:
                continue
            if verdict:
                failing_since = None
                continue
            now = self._clock()
            failing_since = now if failing_since is None else failing_since
            if now - failing_since >= spec.unhealthy_after:
                self.say(
                    f"{spec.name} has been unhealthy for {spec.unhealthy_after:.0f}s "
                    "(no heartbeat); restarting it"
                )
                await self._terminate(process)
                return

    async def _keep_running(self, child: _Child, first: asyncio.subprocess.Process) -> None:
        process = first
        while True:
            started = self._clock()
            watch = None
            if child.spec.healthy is not None:
                watch = asyncio.create_task(self._watch(child.spec, process))
            code = await self._reap(child, process)
            if watch is not None:
                await watch
            if self._stopping.is_set():
                return
            delay = child.history.record_exit(started, self._clock())
            self.say(f"{child.spec.name} exited with code {code}; restarting in {delay:.1f}s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            if self._stopping.is_set():
                return
            self.say(f"restarting {child.spec.name}")
            try:
                process = await self._spawn(child)
            except OSError as error:  # counted as one more crash: the next wait is longer
                self.say(f"cannot restart {child.spec.name}: {error}")

    async def _run_oneshot(self, child: _Child) -> None:
        process = await self._spawn(child)
        code = await self._reap(child, process)
        if code != 0:
            raise StartupFailed(
                f"{child.spec.name} ({' '.join(child.spec.argv)}) exited with code {code}; "
                "see its output above"
            )

    async def _wait_ready(self, spec: ProcessSpec) -> None:
        if spec.ready is None:
            return
        deadline = self._clock() + spec.ready_timeout
        while not await asyncio.to_thread(spec.ready):
            if self._stop_requested.is_set():
                raise StartupAborted("stop requested during startup")
            if self._clock() > deadline:
                raise StartupFailed(
                    f"{spec.name} was not ready after {spec.ready_timeout:.0f}s; "
                    "see its output above"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_requested.wait(), _READY_POLL_SECONDS)

    async def start(self, spec: ProcessSpec) -> None:
        """Start one process (and wait until it is ready, or until a one-shot step is done)."""
        if self._stop_requested.is_set():
            raise StartupAborted("stop requested during startup")
        child = _Child(spec=spec, history=CrashHistory(self._policy))
        self._children.append(child)
        self.say(f"starting {spec.name}: {' '.join(spec.argv)}")
        try:
            if spec.oneshot:
                await self._run_oneshot(child)
                return
            process = await self._spawn(child)
        except OSError as error:
            raise StartupFailed(f"cannot start {spec.name}: {error}") from error
        child.task = asyncio.create_task(self._keep_running(child, process))
        await self._wait_ready(spec)

    async def wait(self) -> None:
        """Run until a stop is requested."""
        await self._stop_requested.wait()

    async def stop(self) -> None:
        """Stop every child, last started first: SIGTERM, then SIGKILL after the grace period."""
        self._stopping.set()
        for child in reversed(self._children):
            process = child.process
            if process is not None and process.returncode is None:
                self.say(f"stopping {child.spec.name}")
                if not await self._terminate(process):
                    self.say(f"{child.spec.name} ignored SIGTERM; killed it")
            if child.task is not None:
                await child.task
            elif process is not None:
                await self._reap(child, process)
        self.say("all processes stopped")
