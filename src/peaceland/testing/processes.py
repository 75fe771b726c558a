"""Components in their own processes, as ``peaceland run`` starts them: ``python -m
peaceland <component>`` with the environment of one data directory.

    component_env(data_dir, **extra)          the environment of such a process
    component(args, data_dir, **env)          a synchronous context manager (benchmarks)
    Component(stack, args, log_path, env)     an asyncio one to kill and restart (faults)
    components(*running)                      start them, none left running afterwards
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Protocol


class HasEnv(Protocol):
    """What ``Component`` needs of a stack: the environment of its processes."""

    def env(self, **extra: str) -> dict[str, str]: ...


def component_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment without the developer's PEACELAND_*, on ``data_dir``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEACELAND_")}
    env["PEACELAND_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


@contextlib.contextmanager
def component(args: list[str], data_dir: Path, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """A ``peaceland`` component in its own process (logging warnings and worse unless
    ``PEACELAND_LOG_LEVEL`` says otherwise); terminated, then killed, on the way out."""
    full_env = component_env(data_dir, **{"PEACELAND_LOG_LEVEL": "WARNING", **env})
    proc = subprocess.Popen([sys.executable, "-m", "peaceland", *args], env=full_env)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Component:
    """One ``python -m peaceland <args>`` process; its output appended to ``log_path``."""

    def __init__(
        self, stack: HasEnv, args: Sequence[str], log_path: Path, env: Mapping[str, str] = {}
    ) -> None:
        self.stack = stack
        self.args = tuple(args)
        self.log_path = log_path
        self.env = dict(env)
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def name(self) -> str:
        return self.args[0]

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.returncode is None else None

    async def start(self) -> None:
        if self.pid is not None:
            raise RuntimeError(f"{self.name} already runs")
        log: IO[bytes]
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "peaceland",
                *self.args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=self.stack.env(**self.env),
                start_new_session=True,
            )
        self.starts += 1

    async def kill(self) -> None:
        """SIGKILL, and wait for it."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, SIGKILL if it is still there after ``timeout``; the exit code."""
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        return proc.returncode

    def rss_mb(self) -> float | None:
        pid = self.pid
        if pid is None:
            return None
        try:
            for text in Path(f"/proc/{pid}/status").read_text().splitlines():
                if text.startswith("VmRSS:"):
                    return int(text.split()[1]) / 1024
        except OSError:
            return None
        return None

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


@contextlib.asynccontextmanager
async def components(*running: Component) -> AsyncIterator[tuple[Component, ...]]:
    """Start them; whatever happens, none is left running afterwards."""
    try:
        for one in running:
            await one.start()
        yield running
    finally:
        for one in running:
            await one.kill()
