"""Embedded servers: a real ``nats-server`` and a real SeaweedFS ``weed`` for each data dir.

    up(settings)      start what is not running, wait until both answer, create the streams and
                      the bucket, write ``<data_dir>/services.json`` (mode 0600)
    down(settings)    SIGTERM, SIGKILL after a grace period; removes ``services.json`` but keeps
                      ports and credentials, so the next ``up`` serves the same data
    status(settings)  health of each server and message counts of the streams (``.status``)

A server named by ``settings.nats_url`` / ``settings.s3_endpoint`` is external: never started
or stopped here, but ``up`` still creates the streams / bucket on it. How each server is
configured and where its files live: ``peaceland.embedded``.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import time
from collections.abc import Mapping

import msgspec

from peaceland.config import (
    S3_CREDENTIALS_REQUIRED,
    NodeState,
    Secret,
    ServicesState,
    Settings,
    services_path,
    write_services_state,
)
from peaceland.contract import (
    ConfigError,
    NotRunningError,
    ServiceError,
)
from peaceland.servers import cluster, embedded, processes
from peaceland.servers.drones import DroneCredentials, enroll_drone
from peaceland.servers.layout import ALL_PORTS, KINDS, NATS, SERVICES, WEED, Layout
from peaceland.servers.status import Health, ServiceStatus, status
from peaceland.storage import prepare_s3
from peaceland.stream import prepare_nats

__all__ = [
    "ALL_PORTS",
    "NATS",
    "SERVICES",
    "WEED",
    "DroneCredentials",
    "Health",
    "ServiceStatus",
    "UpReport",
    "down",
    "enroll_drone",
    "kill_service",
    "start_services",
    "status",
    "stop_services",
    "up",
]

log = logging.getLogger(__name__)

DEFAULT_START_TIMEOUT_S = 60.0
# weed's filer waits 15 s for its own metadata subscription before it gives up on a graceful
# gRPC stop, so a clean weed shutdown takes about 16 s.
DEFAULT_STOP_GRACE_S = 30.0
LOCK_TIMEOUT_S = 120.0
# What `up` stops, after a failure, of the servers it had just started.
ROLLBACK_GRACE_S = 5.0


@dataclasses.dataclass(frozen=True, slots=True)
class UpReport:
    state: ServicesState
    started: tuple[str, ...]
    reused: tuple[str, ...]
    elapsed_s: float


def up(
    settings: Settings,
    *,
    nodes: int | None = None,
    prefer_default_ports: bool = True,
    ports: Mapping[str, int] | None = None,
    timeout: float = DEFAULT_START_TIMEOUT_S,
) -> ServicesState:
    """Start whatever is not running, wait until it answers, create streams and bucket.

    Idempotent: healthy servers are left alone; only dead ones are restarted, on their previous
    ports and with the same credentials. ``ports`` requests ports by name (see ``ALL_PORTS``);
    a requested port that is taken is an error. Raises ``ServiceError`` in one line.
    """
    return start_services(
        settings,
        nodes=nodes,
        prefer_default_ports=prefer_default_ports,
        ports=ports,
        timeout=timeout,
    ).state


def start_services(
    settings: Settings,
    *,
    nodes: int | None = None,
    prefer_default_ports: bool = True,
    ports: Mapping[str, int] | None = None,
    timeout: float = DEFAULT_START_TIMEOUT_S,
) -> UpReport:
    """``up``, also saying what was started and what was already running.

    ``nodes``: 1 for the single node, 2 or more for a cluster (``servers.cluster``); ``None``
    keeps what the data dir holds (a single node when it holds nothing yet)."""
    began = time.monotonic()
    recorded = cluster.recorded_size(settings)
    size = nodes if nodes is not None else (recorded or 1)
    if size > 1:
        done = cluster.start(
            settings,
            size,
            ports=ports or {},
            prefer_default_ports=prefer_default_ports,
            timeout=timeout,
            lock_timeout=LOCK_TIMEOUT_S,
            rollback_grace=ROLLBACK_GRACE_S,
        )
        return UpReport(done.state, done.started, done.reused, time.monotonic() - began)
    if recorded is not None:
        raise ServiceError(
            f"{settings.data_dir} holds a {recorded}-node cluster: run `peaceland up --nodes "
            f"{recorded}`, or use another data dir for a single node"
        )
    if settings.s3_endpoint and not (settings.s3_access_key and settings.s3_secret_key):
        raise ConfigError(S3_CREDENTIALS_REQUIRED)
    explicit = dict(ports or {})
    unknown = sorted(set(explicit) - set(ALL_PORTS))
    if unknown:
        raise ConfigError(f"unknown port name(s) {unknown}; known: {sorted(ALL_PORTS)}")
    layout = Layout.of(settings)
    layout.prepare()
    mine = [n for n, ext in ((NATS, settings.nats_url), (WEED, settings.s3_endpoint)) if not ext]
    with processes.exclusive_lock(layout.root / ".lock", LOCK_TIMEOUT_S):
        state = embedded.read_state(layout)
        previous = embedded.read_ports(layout)
        pids = {n: pid for n in mine if (pid := embedded.find(layout, n, state)) is not None}
        used = _ports_of_running(layout, pids, previous)
        to_start = [n for n in mine if n not in pids]
        binaries = {name: embedded.find_binary(name) for name in to_start}
        used.update(
            embedded.plan_ports(
                [port for name in to_start for port in KINDS[name].default_ports],
                explicit=explicit,
                previous=previous,
                prefer_defaults=prefer_default_ports,
                reserved={settings.http_port, *used.values()},
            )
        )
        access, secret = (
            (settings.s3_access_key or "", settings.s3_secret_key or Secret(""))
            if settings.s3_endpoint
            else embedded.credentials(layout, settings)
        )
        if WEED in to_start:
            embedded.write_identities(layout, access, secret)
        started: list[str] = []
        try:
            for name in to_start:
                pids[name] = embedded.spawn(
                    layout, name, binaries[name], used, embedded.ServerTls.of(settings)
                )
                started.append(name)
            new_state = _state(settings, layout, used, pids, access, secret)
            _prepare(settings, layout, new_state, pids, time.monotonic() + timeout)
        except BaseException:
            if started:
                log.warning("stopping what this `up` started: %s", ", ".join(started))
                processes.stop_processes([pids[n] for n in started], grace=ROLLBACK_GRACE_S)
                if WEED in started:
                    embedded.remove_weed_sockets(used)
            raise
        embedded.write_ports(layout, used)
        if settings.s3_endpoint:  # never copy an external secret to disk
            new_state = msgspec.structs.replace(new_state, s3_access_key="", s3_secret_key="")
        write_services_state(layout.root, new_state)
    reused = tuple(n for n in mine if n not in started)
    return UpReport(new_state, tuple(started), reused, time.monotonic() - began)


def _ports_of_running(
    layout: Layout, pids: Mapping[str, int], previous: Mapping[str, int]
) -> dict[str, int]:
    used: dict[str, int] = {}
    for name, pid in pids.items():
        names = KINDS[name].default_ports
        if not all(port in previous for port in names):
            raise ServiceError(
                f"{name} (pid {pid}) runs but {layout.ports_file} lacks its ports; "
                "run `peaceland down` then `peaceland up`"
            )
        used.update({port: previous[port] for port in names})
    return used


def _state(
    settings: Settings,
    layout: Layout,
    ports: Mapping[str, int],
    pids: Mapping[str, int],
    access: str,
    secret: Secret,
) -> ServicesState:
    host = processes.LOOPBACK
    tls = settings.nats_tls_cert is not None
    if settings.nats_url:
        nats_url = settings.nats_url
        drone_nats_url = settings.drone_nats_url or settings.nats_url
    else:
        users = embedded.nats_users(layout)
        nats_url = embedded.account_url(users.service, ports, tls=tls)
        drone_nats_url = embedded.account_url(users.fleet, ports, tls=tls)
    # ``pids`` holds only the servers we run, never external ones.
    started = []
    if NATS in pids:
        started.append(
            NodeState(name=NATS, kind="nats", pid=pids[NATS], url=embedded.nats_url(ports, tls=tls))
        )
    if WEED in pids:
        started.append(
            NodeState(
                name=WEED, kind="weed-server", pid=pids[WEED], url=embedded.s3_endpoint(ports)
            )
        )
    return ServicesState(
        nats_url=nats_url,
        drone_nats_url=drone_nats_url,
        nats_urls=nats_url.split(","),
        drone_nats_urls=drone_nats_url.split(","),
        nodes=started,
        s3_endpoint=settings.s3_endpoint or embedded.s3_endpoint(ports),
        s3_bucket=settings.s3_bucket,
        s3_access_key=access,
        s3_secret_key=secret.reveal(),
        mqtt_url=None if settings.nats_url else embedded.mqtt_url(ports, tls=tls),
        nats_monitor_url=None if settings.nats_url else f"http://{host}:{ports['nats_monitor']}",
        pids=dict(pids),
        ports=dict(ports),
    )


def _prepare(
    settings: Settings,
    layout: Layout,
    state: ServicesState,
    pids: Mapping[str, int],
    deadline: float,
) -> None:
    """Wait until both answer; create the streams and the bucket."""

    def ours(name: str) -> str | None:
        return name if name in pids else None

    prepare_nats(
        state.nats_url,
        deadline=deadline,
        died=embedded.death_check(layout, NATS, pids[NATS]) if NATS in pids else None,
        context=embedded.log_context(layout, ours(NATS)),
        tls_ca=settings.nats_tls_ca,
    )
    prepare_s3(
        state.s3_endpoint,
        state.s3_access_key or None,
        Secret(state.s3_secret_key) if state.s3_secret_key else None,
        settings.s3_bucket,
        deadline=deadline,
        died=embedded.death_check(layout, WEED, pids[WEED]) if WEED in pids else None,
        context=embedded.log_context(layout, ours(WEED)),
        write_check=WEED in pids,
    )


def down(settings: Settings, *, grace: float = DEFAULT_STOP_GRACE_S) -> None:
    """Stop the servers ``up`` started (never external ones); no process is left behind."""
    stop_services(settings, grace=grace)


def stop_services(settings: Settings, *, grace: float = DEFAULT_STOP_GRACE_S) -> dict[str, int]:
    """``down``, returning the pid stopped for each server."""
    layout = Layout.of(settings)
    if not layout.root.is_dir():
        return {}
    with processes.exclusive_lock(layout.root / ".lock", LOCK_TIMEOUT_S):
        state = embedded.read_state(layout)
        found = {name: embedded.find(layout, name, state) for name in SERVICES}
        pids = {name: pid for name, pid in found.items() if pid is not None}
        cluster_nodes = cluster.nodes_of(layout)
        pids.update(cluster.running(layout, cluster_nodes, state))
        survivors: set[int] = set()
        for tier in cluster.stop_tiers(pids):
            targets = {pids[name] for name in tier}
            for pid in list(targets):
                targets.update(processes.session_members(pid))
            survivors |= processes.stop_processes(targets, grace=grace)
        for pid in pids.values():
            survivors.update(processes.session_members(pid))
        if survivors:
            raise ServiceError(f"processes {sorted(survivors)} survived SIGKILL")
        services_path(layout.root).unlink(missing_ok=True)
        ports = embedded.read_ports(layout)
        embedded.remove_weed_sockets(ports)
        cluster.remove_sockets(cluster_nodes, ports)
    for name, pid in pids.items():
        log.info("stopped %s pid %d", name, pid)
    return pids


def kill_service(settings: Settings, name: str, sig: signal.Signals = signal.SIGKILL) -> int:
    """Send ``sig`` (default SIGKILL) to one embedded server or cluster node and wait for it
    to exit (SIGSTOP: to stop running); returns its pid.

    For fault tests: ``up`` afterwards restarts it on the same ports.
    """
    layout = Layout.of(settings)
    state = embedded.read_state(layout)
    node = cluster.node_named(layout, name)
    if node is not None:
        pid = cluster.find(layout, node, state)
    elif name in KINDS:
        pid = embedded.find(layout, name, state)
    else:
        known = [n.name for n in cluster.nodes_of(layout)] or list(SERVICES)
        raise ServiceError(f"unknown service {name!r}; known: {', '.join(known)}")
    if pid is None:
        raise NotRunningError(f"{name} is not running in {layout.root}")
    processes.signal_all([pid], sig)
    if sig in (signal.SIGSTOP, signal.SIGCONT):
        # Signals arrive asynchronously: return once the node is stopped (running again).
        if not processes.wait_stopped(pid, sig == signal.SIGSTOP, DEFAULT_STOP_GRACE_S):
            raise ServiceError(f"{name} (pid {pid}) did not take {sig.name}")
        return pid
    if processes.wait_gone([pid], DEFAULT_STOP_GRACE_S):
        raise ServiceError(f"{name} (pid {pid}) did not exit after {sig.name}")
    return pid
