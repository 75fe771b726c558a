"""``peaceland status``: each embedded or external server's address, pid, health and, for NATS,
the message counts of the streams.

For a cluster: the NATS and S3 services as clients see them, then every node with its health
and role (NATS meta leader, the streams it leads, the Raft leader master). Roles come from the
nodes' own monitoring endpoints (``/jsz`` of each NATS node, ``/cluster/status`` of a master),
so a dead node never hides the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Literal

from peaceland.config import (
    Secret,
    ServicesState,
    Settings,
)
from peaceland.servers import cluster, embedded, nodes, processes
from peaceland.servers.layout import NATS, WEED, Layout
from peaceland.servers.topology import Node
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
    #: A cluster node's kind (``servers.topology.NodeKind``); empty for a whole service.
    kind: str = ""
    #: A cluster node's role: NATS meta leader, the streams it leads, the Raft leader master.
    role: str = ""


def status(settings: Settings, *, timeout: float = 3.0) -> list[ServiceStatus]:
    """Each server: address, pid, health (running / stopped / unhealthy) and stream counts."""
    layout = Layout.of(settings)
    state = embedded.read_state(layout) if layout.root.is_dir() else None
    cluster_nodes = cluster.nodes_of(layout)
    if cluster_nodes:
        return cluster_status(settings, layout, state, cluster_nodes, timeout)
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


def cluster_status(
    settings: Settings,
    layout: Layout,
    state: ServicesState | None,
    cluster_nodes: Sequence[Node],
    timeout: float,
) -> list[ServiceStatus]:
    ports = {**embedded.read_ports(layout), **(state.ports if state else {})}
    pids = cluster.running(layout, cluster_nodes, state)
    roles = node_roles(cluster_nodes, ports, pids)
    rows = [_nats_service(settings, state, pids, timeout), _s3_service(state, pids, timeout)]
    tls = settings.nats_tls_cert is not None
    for node in cluster_nodes:
        address = nodes.public_url(node, ports, tls=tls) if node.port_keys[0] in ports else None
        pid = pids.get(node.name)
        health: Health = "stopped"
        if pid is not None:
            health = "running" if nodes.node_healthy(node, ports) else "unhealthy"
        rows.append(
            ServiceStatus(
                node.name, health, address, pid=pid, kind=node.kind, role=roles.get(node.name, "")
            )
        )
    return rows


def _nats_service(
    settings: Settings, state: ServicesState | None, pids: Mapping[str, int], timeout: float
) -> ServiceStatus:
    up = any(name.startswith("nats-") for name in pids)
    if state is None or not up:
        return ServiceStatus(NATS, "stopped", redact(state.nats_url) if state else None)
    probe = probe_nats(state.nats_url, timeout, tls_ca=settings.nats_tls_ca)
    return ServiceStatus(
        NATS,
        "running" if probe.error is None else "unhealthy",
        redact(state.nats_url),
        detail=probe.error or "",
        endpoints={"mqtt": state.mqtt_url or "", "monitor": state.nats_monitor_url or ""},
        streams=probe.streams,
    )


def _s3_service(
    state: ServicesState | None, pids: Mapping[str, int], timeout: float
) -> ServiceStatus:
    if state is None or not any(name.startswith("weed-s3") for name in pids):
        return ServiceStatus(WEED, "stopped", state.s3_endpoint if state else None)
    error = probe_s3(
        state.s3_endpoint,
        state.s3_access_key,
        Secret(state.s3_secret_key),
        state.s3_bucket,
        timeout,
    )
    return ServiceStatus(
        WEED,
        "running" if error is None else "unhealthy",
        state.s3_endpoint,
        detail=error or "",
        endpoints={"bucket": state.s3_bucket},
    )


def node_roles(
    cluster_nodes: Sequence[Node], ports: Mapping[str, int], pids: Mapping[str, int]
) -> dict[str, str]:
    """``nats-2: "meta leader; leads REPORTS, AUDIT"``, ``weed-master-1: "raft leader"``."""
    roles: dict[str, list[str]] = {}
    live = [node for node in cluster_nodes if node.name in pids]
    meta, streams = _nats_leaders([n for n in live if n.is_nats], ports)
    if meta:
        roles.setdefault(meta, []).append("meta leader")
    led: dict[str, list[str]] = {}
    for stream, leader in sorted(streams.items()):
        led.setdefault(leader, []).append(stream)
    for leader, names in led.items():
        roles.setdefault(leader, []).append("leads " + ", ".join(names))
    master = _raft_leader([n for n in live if n.kind == "weed-master"], ports)
    for node in cluster_nodes:
        if node.kind == "weed-master" and node.name in pids:
            roles.setdefault(node.name, []).append(
                "raft leader" if node.name == master else "follower"
            )
    return {name: "; ".join(parts) for name, parts in roles.items()}


def _nats_leaders(
    live: Sequence[Node], ports: Mapping[str, int]
) -> tuple[str | None, dict[str, str]]:
    """The meta leader and each stream's leader, as the first node that answers sees them."""
    for node in live:
        monitor = f"http://127.0.0.1:{ports[node.port_key('monitor')]}"
        try:
            status, body = nodes.http_json(f"{monitor}/jsz?streams=true")
        except OSError:
            continue
        if status != 200 or not isinstance(body, dict):
            continue
        meta = body.get("meta_cluster") or {}
        leaders = {
            str(stream["name"]): str(stream["cluster"]["leader"])
            for account in body.get("account_details") or []
            for stream in account.get("stream_detail") or []
            if (stream.get("cluster") or {}).get("leader")
        }
        return meta.get("leader") or None, leaders
    return None, {}


def _raft_leader(live: Sequence[Node], ports: Mapping[str, int]) -> str | None:
    """The master that the masters call leader (``ip:http.grpc``), by name."""
    for node in live:
        try:
            status, body = nodes.http_json(nodes.health_url(node, ports))
        except OSError:
            continue
        if status == 200 and isinstance(body, dict) and body.get("Leader"):
            leader = str(body["Leader"])
            return next((n.name for n in live if nodes.weed_address(n, ports) == leader), leader)
    return None
