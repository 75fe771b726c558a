"""``peaceland status``: each embedded or external server's address, pid, health and, for NATS,
the message counts of the streams."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Literal

from peaceland.config import (
    Secret,
    ServicesState,
    Settings,
)
from peaceland.servers import embedded, processes
from peaceland.servers.layout import NATS, WEED, Layout
from peaceland.storage import probe_s3
from peaceland.stream import probe_nats, redact

Health = Literal["running", "stopped", "unhealthy"]


@dataclasses.dataclass(frozen=True, slots=True)
class ServiceStatus:
    """One server as ``peaceland status`` shows it."""

    name: str
    health: Health
    address: str | None
    pid: int | None = None
    external: bool = False
    detail: str = ""
    endpoints: Mapping[str, str] = dataclasses.field(default_factory=dict)
    streams: Mapping[str, int | None] | None = None


def status(settings: Settings, *, timeout: float = 3.0) -> list[ServiceStatus]:
    """Each server: address, pid, health (running / stopped / unhealthy) and stream counts."""
    layout = Layout.of(settings)
    state = embedded.read_state(layout) if layout.root.is_dir() else None
    ports = {**embedded.read_ports(layout), **(state.ports if state else {})}
    return [
        _nats_status(settings, layout, state, ports, timeout),
        _s3_status(settings, layout, state, ports, timeout),
    ]


def _nats_status(
    settings: Settings,
    layout: Layout,
    state: ServicesState | None,
    ports: Mapping[str, int],
    timeout: float,
) -> ServiceStatus:
    external = settings.nats_url is not None
    pid = None if external else embedded.find(layout, NATS, state)
    url = settings.nats_url or (
        embedded.account_url(
            embedded.nats_users(layout).service, ports, tls=settings.nats_tls_cert is not None
        )
        if "nats" in ports
        else None
    )
    endpoints = {}
    if not external and "mqtt" in ports:
        endpoints = {
            "mqtt": f"mqtt://{processes.LOOPBACK}:{ports['mqtt']}",
            "monitor": f"http://{processes.LOOPBACK}:{ports['nats_monitor']}",
        }
    if url is None or (not external and pid is None):
        return ServiceStatus(NATS, "stopped", url and redact(url), endpoints=endpoints)
    probe = probe_nats(url, timeout, tls_ca=settings.nats_tls_ca)
    return ServiceStatus(
        NATS,
        "running" if probe.error is None else "unhealthy",
        redact(url),
        pid=pid,
        external=external,
        detail=probe.error or "",
        endpoints=endpoints,
        streams=probe.streams,
    )


def _s3_status(
    settings: Settings,
    layout: Layout,
    state: ServicesState | None,
    ports: Mapping[str, int],
    timeout: float,
) -> ServiceStatus:
    external = settings.s3_endpoint is not None
    pid = None if external else embedded.find(layout, WEED, state)
    endpoint = settings.s3_endpoint or (embedded.s3_endpoint(ports) if "s3" in ports else None)
    bucket = settings.s3_bucket if external or state is None else state.s3_bucket
    endpoints = {"bucket": bucket}
    if endpoint is None or (not external and pid is None):
        return ServiceStatus(WEED, "stopped", endpoint, endpoints=endpoints)
    if external:
        access, secret = settings.s3_access_key, settings.s3_secret_key
    elif state is not None:
        access, secret = state.s3_access_key, Secret(state.s3_secret_key)
    else:
        access, secret = embedded.saved_credentials(layout) or ("", Secret(""))
    error = probe_s3(endpoint, access, secret, bucket, timeout)
    return ServiceStatus(
        WEED,
        "running" if error is None else "unhealthy",
        endpoint,
        pid=pid,
        external=external,
        detail=error or "",
        endpoints=endpoints,
    )
