"""The embedded servers: ``peaceland up/down/status`` of real ``nats-server`` and ``weed``
processes under a data directory.
"""

from __future__ import annotations

from peaceland.servers.processes import free_port

__all__ = [
    "free_port",
]
