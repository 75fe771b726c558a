"""How each process of a cluster runs: its directory, configuration, command line and marker.

Layout of a cluster's data dir D (beside what ``servers.embedded`` describes)::

    D/cluster.json         the size of the cluster, so `up` and `down` know its nodes
    D/nats-<i>/nats.conf   node i: ``server_name`` nats-<i>, its store under D/nats-<i>/store,
                           routes to every other node (0600: route and user credentials)
    D/nats/route.secret    the password the nodes' routes authenticate with (0600)
    D/weed-master-<i>/     Raft log and metadata of master i
    D/weed-volume-<i>/     the volumes of volume server i
    D/weed-filer-1/        the filer's metadata store
    D/logs/<node>.log      each node's output

Users, passwords and S3 identities are the single node's files (``D/nats/users.json``,
``D/weed/s3.json``): one set of credentials whatever the size.
"""

from __future__ import annotations

import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from peaceland.contract import ServiceError
from peaceland.servers import processes
from peaceland.servers.embedded import NatsUsers, ServerTls, server_config, socket_arg
from peaceland.servers.layout import Layout
from peaceland.servers.topology import WEED_REPLICATION, Node

CLUSTER_NAME: Final = "peaceland"
ROUTE_USER: Final = "route"
# Leader election after a master dies: ~4 s instead of ~14 s with weed's default.
MASTER_ELECTION_TIMEOUT: Final = "3s"
# Small volumes so that a few volume servers on one disk can hold many of them.
VOLUME_SIZE_LIMIT_MB: Final = 512
DATA_CENTER: Final = "dc1"
RACK: Final = "rack1"
HTTP_TIMEOUT_S: Final = 2.0
#: The gRPC socket weed opens under /tmp for each kind (``seaweedfs-<kind>-grpc-<port>.sock``).
_SOCKET_KIND: Final = {
    "weed-master": "master",
    "weed-volume": "volume",
    "weed-filer": "filer",
    "weed-s3": "s3",
}


def node_dir(layout: Layout, node: Node) -> Path:
    return layout.root / node.name


def nats_conf(layout: Layout, node: Node) -> Path:
    return node_dir(layout, node) / "nats.conf"


def cluster_file(layout: Layout) -> Path:
    return layout.root / "cluster.json"


def route_secret_file(layout: Layout) -> Path:
    return layout.dir("nats") / "route.secret"


def marker(layout: Layout, node: Node) -> str:
    """An argument only this node of this data dir has on its command line."""
    if node.kind == "nats":
        return str(nats_conf(layout, node))
    if node.kind == "weed-master":
        return f"-mdir={node_dir(layout, node)}"
    if node.kind == "weed-volume":
        return f"-dir={node_dir(layout, node)}"
    if node.kind == "weed-filer":
        return f"-defaultStoreDir={node_dir(layout, node)}"
    return f"-config={layout.s3_identities}"


def read_size(layout: Layout) -> int | None:
    """The number of nodes of the cluster in this data dir, ``None`` if it holds none."""
    try:
        doc = json.loads(cluster_file(layout).read_bytes())
        return int(doc["nodes"])
    except FileNotFoundError:
        return None
    except (ValueError, LookupError, TypeError):
        raise ServiceError(f"{cluster_file(layout)} is corrupt; remove it") from None


def write_size(layout: Layout, nodes: int) -> None:
    processes.write_private(cluster_file(layout), json.dumps({"nodes": nodes}).encode())


def route_secret(layout: Layout) -> str:
    """The routes' password of the last ``up``, else a new one (written at once)."""
    path = route_secret_file(layout)
    try:
        secret = path.read_text().strip()
    except FileNotFoundError:
        secret = ""
    if not secret:
        secret = secrets.token_hex(24)
        processes.write_private(path, secret.encode())
    return secret


def _address(node: Node, ports: Mapping[str, int], role: str) -> str:
    return f"{processes.LOOPBACK}:{ports[node.port_key(role)]}"


def weed_address(node: Node, ports: Mapping[str, int]) -> str:
    """``ip:http.grpc``, the way weed names a server whose gRPC port is not http + 10000."""
    return f"{_address(node, ports, 'http')}.{ports[node.port_key('grpc')]}"


def nats_node_config(
    layout: Layout,
    node: Node,
    nodes: Sequence[Node],
    ports: Mapping[str, int],
    users: NatsUsers,
    tls: ServerTls | None,
) -> str:
    """One node's ``nats.conf``: the single node's settings plus routes to every node."""
    secret = route_secret(layout)
    routes = ", ".join(
        json.dumps(f"nats-route://{ROUTE_USER}:{secret}@{_address(n, ports, 'cluster')}")
        for n in nodes
        if n.kind == "nats" and n != node
    )
    cluster = (
        "cluster {\n"
        f"  name: {CLUSTER_NAME}\n"
        f'  listen: "{_address(node, ports, "cluster")}"\n'
        f"  authorization {{ user: {ROUTE_USER}, password: {json.dumps(secret)} }}\n"
        f"  routes: [{routes}]\n"
        "}\n"
    )
    return server_config(
        server_name=node.name,
        store=node_dir(layout, node) / "store",
        client=ports[node.port_key("client")],
        monitor=ports[node.port_key("monitor")],
        mqtt=ports[node.port_key("mqtt")],
        users=users,
        tls=tls,
        cluster=cluster,
    )


def weed_argv(
    binary: Path, layout: Layout, node: Node, nodes: Sequence[Node], ports: Mapping[str, int]
) -> list[str]:
    """The command line of one SeaweedFS node; every address explicit, on loopback."""
    here = node_dir(layout, node)
    masters = ",".join(weed_address(n, ports) for n in nodes if n.kind == "weed-master")
    common = [
        f"-ip={processes.LOOPBACK}",
        f"-ip.bind={processes.LOOPBACK}",
        f"-port={ports[node.port_key('http')]}",
        f"-port.grpc={ports[node.port_key('grpc')]}",
    ]
    if node.kind == "weed-master":
        args = [
            "master",
            f"-mdir={here}",
            f"-peers={masters}",
            f"-defaultReplication={WEED_REPLICATION}",
            f"-electionTimeout={MASTER_ELECTION_TIMEOUT}",
            f"-volumeSizeLimitMB={VOLUME_SIZE_LIMIT_MB}",
            "-telemetry=false",
        ]
    elif node.kind == "weed-volume":
        args = [
            "volume",
            f"-dir={here}",
            f"-master={masters}",
            f"-dataCenter={DATA_CENTER}",
            f"-rack={RACK}",
            "-max=0",
            "-preStopSeconds=0",
        ]
    elif node.kind == "weed-filer":
        args = [
            "filer",
            f"-defaultStoreDir={here}",
            f"-master={masters}",
            f"-dataCenter={DATA_CENTER}",
            f"-rack={RACK}",
            *socket_arg("-localSocket", here / "filer.sock"),
        ]
    elif node.kind == "weed-s3":
        filer = next(n for n in nodes if n.kind == "weed-filer")
        args = [
            "s3",
            f"-filer={weed_address(filer, ports)}",
            f"-config={layout.s3_identities}",
            "-port.iceberg=0",
            "-port.lance=0",
            *socket_arg("-localSocket", here / "s3.sock"),
        ]
    else:
        raise ValueError(f"{node.name} is not a SeaweedFS cluster node")
    return [str(binary), args[0], *common, *args[1:]]


def weed_socket(node: Node, ports: Mapping[str, int]) -> tuple[str, int] | None:
    """The kind and gRPC port of the Unix socket weed opens under /tmp for this node."""
    kind = _SOCKET_KIND.get(node.kind)
    if kind is None or node.port_key("grpc") not in ports:
        return None
    return kind, ports[node.port_key("grpc")]


def health_url(node: Node, ports: Mapping[str, int]) -> str:
    """The HTTP address that says the node is up (NATS: JetStream current; weed: serving)."""
    if node.kind == "nats":
        return f"http://{_address(node, ports, 'monitor')}/healthz"
    if node.kind == "weed-master":
        return f"http://{_address(node, ports, 'http')}/cluster/status"
    if node.kind == "weed-volume":
        return f"http://{_address(node, ports, 'http')}/status"
    return f"http://{_address(node, ports, 'http')}/"


def public_url(node: Node, ports: Mapping[str, int], *, tls: bool = False) -> str:
    """What ``services.json`` lists for the node: its client address."""
    if node.kind == "nats":
        return f"{'tls' if tls else 'nats'}://{_address(node, ports, 'client')}"
    return f"http://{_address(node, ports, 'http')}"


def http_json(url: str, timeout: float = HTTP_TIMEOUT_S) -> tuple[int, object]:
    """GET ``url``: its status and its JSON body (``None`` if not JSON). Raises ``OSError``."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def node_healthy(node: Node, ports: Mapping[str, int]) -> bool:
    """NATS: JetStream current (a restarted node has caught up); a master: it knows the
    Raft leader; other weed nodes: they answer HTTP."""
    try:
        status, body = http_json(health_url(node, ports))
    except OSError:
        return False
    if node.is_nats or node.kind == "weed-volume":
        return status == 200
    if node.kind == "weed-master":
        return status == 200 and isinstance(body, dict) and bool(body.get("Leader"))
    return status < 500
