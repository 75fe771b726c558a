"""Process and port helpers for the embedded servers: find, spawn detached, identify, stop.

A pid on its own proves nothing: after a reboot or a crash it may belong to anything. A server
is ours only when ``/proc/<pid>/cmdline`` shows the expected binary *and* a marker naming our
data directory (its config file or data dir). Without ``/proc`` (not Linux) only liveness is
checked. Servers are spawned with ``posix_spawn`` in a new session, so they outlive the caller;
when the caller is still alive it reaps them here, so a dead server never lingers as a zombie.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from peaceland.contract import ServiceError

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
_PROC = Path("/proc")
# Changes directory, then becomes the server (same pid): posix_spawn has no portable chdir.
_CD_AND_EXEC = 'cd "$1" && shift && exec "$@"'


def find_binary(name: str, package: str) -> Path:
    """The server binary next to the running Python (the venv's bin dir), else on ``PATH``."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which(name)
    if found:
        return Path(found)
    raise ServiceError(
        f"{name} not found next to {sys.executable} nor on PATH; install it: pip install {package}"
    )


# -- ports ---------------------------------------------------------------------------------------


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when a server could listen on ``host:port`` now (sockets in TIME_WAIT don't count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(avoid: Collection[int] = (), host: str = LOOPBACK) -> int:
    """A port the kernel says is free, not in ``avoid``."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port: int = sock.getsockname()[1]
        if port not in avoid:
            return port
    raise ServiceError("no free TCP port found on the loopback interface")


# -- processes ----------------------------------------------------------------------------------


def spawn(argv: Sequence[str], *, cwd: Path, log_path: Path) -> int:
    """Start ``argv`` detached (new session), stdout and stderr appended to ``log_path``."""
    try:
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        raise ServiceError(f"cannot open log file {log_path}: {exc.strerror}") from None
    try:
        return os.posix_spawn(
            "/bin/sh",
            ["/bin/sh", "-c", _CD_AND_EXEC, "sh", str(cwd), *argv],
            _server_environment(),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, fd, 1),
                (os.POSIX_SPAWN_DUP2, fd, 2),
            ],
            setsid=True,
        )
    except OSError as exc:
        raise ServiceError(f"cannot start {argv[0]}: {exc.strerror}") from None
    finally:
        os.close(fd)


def _server_environment() -> dict[str, str]:
    """Our environment minus settings and cloud credentials: servers take theirs from files."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PEACELAND_", "AWS_"))}


def reap(pid: int) -> None:
    """Collect the exit status of ``pid`` if it is our dead child (no zombie left behind)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, session, ..."""
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2 :].split()


def pid_alive(pid: int) -> bool:
    """Alive and not a zombie."""
    if pid <= 0:
        return False
    reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    if not _PROC.is_dir():
        return True
    # A multi-threaded process shows its leader as a zombie while the other threads still
    # exit and hold its sockets: alive until every thread is gone.
    try:
        tasks = [int(t) for t in os.listdir(_PROC / str(pid) / "task")]
    except (OSError, ValueError):
        return False
    return any(_task_running(pid, tid) for tid in tasks)


def _task_running(pid: int, tid: int) -> bool:
    try:
        raw = (_PROC / str(pid) / "task" / str(tid) / "stat").read_text()
    except OSError:
        return False
    return raw[raw.rfind(")") + 2 :][:1] not in ("Z", "X", "")


def cmdline(pid: int) -> list[str] | None:
    try:
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return None
    return [part.decode(errors="replace") for part in raw.split(b"\0")[:-1]] or None


def is_server(pid: int, binary: str, marker: str) -> bool:
    """``pid`` is alive and runs ``binary`` with an argument containing ``marker``."""
    if not pid_alive(pid):
        return False
    if not _PROC.is_dir():
        return True
    args = cmdline(pid)
    if not args or Path(args[0]).name != binary:
        return False
    return any(marker in arg for arg in args[1:])


def find_server(binary: str, marker: str, hint: int | None = None) -> int | None:
    """The pid of our server: the recorded ``hint`` if it checks out, else a scan of /proc."""
    if hint is not None and is_server(hint, binary, marker):
        return hint
    if not _PROC.is_dir():
        return None
    for entry in _PROC.iterdir():
        if entry.name.isdigit() and is_server(int(entry.name), binary, marker):
            return int(entry.name)
    return None


def session_members(sid: int) -> list[int]:
    """Live processes of session ``sid`` other than its leader (a server's own children)."""
    if not _PROC.is_dir():
        return []
    members = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == sid:
            continue
        fields = _stat_fields(int(entry.name))
        if fields and len(fields) > 3 and fields[3] == str(sid) and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def is_stopped(pid: int) -> bool:
    """Stopped by a signal (SIGSTOP), as ``/proc/<pid>/stat`` says."""
    fields = _stat_fields(pid)
    return fields is not None and fields[:1] == ["T"]


def wait_stopped(pid: int, stopped: bool, timeout: float) -> bool:
    """Wait until ``pid`` is stopped (or running again, ``stopped=False``); True if it is."""
    deadline = time.monotonic() + timeout
    while is_stopped(pid) != stopped:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def wait_gone(pids: Iterable[int], timeout: float) -> set[int]:
    """Wait until every pid is gone; returns those still alive at the deadline."""
    remaining = set(pids)
    deadline = time.monotonic() + timeout
    while remaining:
        remaining = {pid for pid in remaining if pid_alive(pid)}
        if not remaining or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    return remaining


def signal_all(pids: Iterable[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def stop_processes(pids: Iterable[int], *, grace: float, kill_wait: float = 10.0) -> set[int]:
    """SIGTERM, wait ``grace`` seconds, then SIGKILL. Returns the pids that still survive."""
    targets = {pid for pid in pids if pid_alive(pid)}
    signal_all(targets, signal.SIGTERM)
    left = wait_gone(targets, grace)
    if left:
        log.warning("still running after %.0f s, sending SIGKILL to %s", grace, sorted(left))
        signal_all(left, signal.SIGKILL)
        left = wait_gone(left, kill_wait)
    return left


# -- files ---------------------------------------------------------------------------------------


def log_tail(path: Path, lines: int = 3, width: int = 300) -> str:
    """The last lines of a log file on one line, for error messages."""
    try:
        with path.open("rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16384))
            text = fh.read().decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    tail = [line.strip()[:width] for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(tail) if tail else f"(empty log {path})"


def write_private(path: Path, data: bytes) -> None:
    """Write atomically with mode 0600 (the file may hold credentials)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


@contextlib.contextmanager
def exclusive_lock(path: Path, timeout: float) -> Iterator[None]:
    """An advisory lock so two ``up``/``down`` on one data dir never interleave."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise ServiceError(
                        f"{path.parent} is busy: another `peaceland up` or `down` holds {path}"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)


def describe_ports(ports: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {port}" for name, port in ports.items())
