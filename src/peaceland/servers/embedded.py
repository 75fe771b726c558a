"""How each embedded server runs: ports, config files, command lines, credentials, pids.

Layout of a data dir D::

    D/services.json    endpoints, credentials, pids and ports, while the servers are up
    D/ports.json       ports last used, so addresses stay stable across restarts
    D/nats/nats.conf   JetStream (file store under D/nats/store, sync always), MQTT, monitoring,
                       users and permissions (0600, bcrypt hashes only)
    D/nats/users.json  the service and fleet passwords, enrolled drones' hashes (0600)
    D/weed/s3.json     S3 identities (0600): the access and secret key
    D/weed/data/       master, volume and filer data
    D/logs/nats.log, D/logs/weed.log

The server names, default ports and ``Layout`` (the paths above) are in ``servers.layout``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import string
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from peaceland.access import (
    FLEET_USER,
    SERVICE_USER,
    NatsUser,
    authorization_block,
    hash_password,
    new_password,
    users_for,
    with_credentials,
)
from peaceland.config import Secret, ServicesState, Settings, read_services_state
from peaceland.contract import ConfigError, ServiceError
from peaceland.servers import processes
from peaceland.servers.layout import ALL_PORTS, KINDS, MAX_FILE_STORE, NATS, WEED, Layout

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class NatsAccount:
    """A user whose password Peaceland keeps (the service and the fleet)."""

    user: str
    password: str
    password_hash: str

    @classmethod
    def new(cls, user: str) -> NatsAccount:
        password = new_password()
        return cls(user, password, hash_password(password))


@dataclasses.dataclass(frozen=True, slots=True)
class NatsUsers:
    """The content of ``D/nats/users.json``: enrolled drones are kept as hashes only."""

    service: NatsAccount
    fleet: NatsAccount
    drones: Mapping[str, str]  # drone id -> bcrypt hash

    def server_users(self) -> list[NatsUser]:
        return users_for(self.service.password_hash, self.fleet.password_hash, self.drones)

    def encode(self) -> bytes:
        doc = {
            "service": dataclasses.asdict(self.service),
            "fleet": dataclasses.asdict(self.fleet),
            "drones": dict(self.drones),
        }
        return json.dumps(doc, indent=2).encode()


def nats_users(layout: Layout) -> NatsUsers:
    """The users of the last ``up``, else new ones (written at once, mode 0600)."""
    try:
        doc = json.loads(layout.nats_users.read_bytes())
        return NatsUsers(
            service=NatsAccount(**doc["service"]),
            fleet=NatsAccount(**doc["fleet"]),
            drones={str(k): str(v) for k, v in doc["drones"].items()},
        )
    except FileNotFoundError:
        pass
    except (ValueError, LookupError, TypeError):
        raise ServiceError(f"{layout.nats_users} is corrupt; remove it") from None
    users = NatsUsers(
        service=NatsAccount.new(SERVICE_USER),
        fleet=NatsAccount.new(FLEET_USER),
        drones={},
    )
    processes.write_private(layout.nats_users, users.encode())
    return users


def write_nats_users(layout: Layout, users: NatsUsers) -> None:
    processes.write_private(layout.nats_users, users.encode())


@dataclasses.dataclass(frozen=True, slots=True)
class ServerTls:
    cert: Path
    key: Path

    @classmethod
    def of(cls, settings: Settings) -> ServerTls | None:
        if settings.nats_tls_cert and settings.nats_tls_key:
            return cls(settings.nats_tls_cert.resolve(), settings.nats_tls_key.resolve())
        return None


def write_nats_config(
    layout: Layout, ports: Mapping[str, int], users: NatsUsers, tls: ServerTls | None
) -> None:
    text = nats_config(layout, ports, users, tls)
    processes.write_private(layout.nats_conf, text.encode())


def nats_config(
    layout: Layout, ports: Mapping[str, int], users: NatsUsers, tls: ServerTls | None = None
) -> str:
    """The single node's configuration (``server_config`` on the ``nats`` ports)."""
    return server_config(
        server_name="peaceland",
        store=layout.dir(NATS) / "store",
        client=ports["nats"],
        monitor=ports["nats_monitor"],
        mqtt=ports["mqtt"],
        users=users,
        tls=tls,
    )


def server_config(
    *,
    server_name: str,
    store: Path,
    client: int,
    monitor: int,
    mqtt: int,
    users: NatsUsers,
    tls: ServerTls | None = None,
    cluster: str = "",
) -> str:
    """JetStream on file storage with fsync on every write, MQTT and monitoring on loopback,
    no anonymous access (every client is one of ``users``) and, with ``tls``, NATS and MQTT
    clients only over TLS (the same certificate). ``cluster``: the routes block of a node."""
    host = processes.LOOPBACK
    tls_block = mqtt_tls = ""
    if tls is not None:
        cert, key = json.dumps(str(tls.cert)), json.dumps(str(tls.key))
        tls_block = f"tls {{\n  cert_file: {cert}\n  key_file: {key}\n}}\n"
        mqtt_tls = f"  tls {{\n    cert_file: {cert}\n    key_file: {key}\n  }}\n"
    return (
        "# Written by `peaceland up`; rewritten at every start.\n"
        f"server_name: {json.dumps(server_name)}\n"
        f'listen: "{host}:{client}"\n'
        f'http: "{host}:{monitor}"\n'
        f"jetstream {{\n  store_dir: {json.dumps(str(store))}\n  sync_interval: always\n"
        # Stream byte limits (stream.STREAMS) are ceilings that JetStream reserves up front;
        # allow them all, the disk stays the real limit.
        f"  max_file_store: {MAX_FILE_STORE}\n}}\n"
        f'mqtt {{\n  listen: "{host}:{mqtt}"\n{mqtt_tls}}}\n'
        + tls_block
        + cluster
        + authorization_block(users.server_users())
    )


def socket_arg(flag: str, path: Path) -> list[str]:
    # Unix socket paths are limited to 108 bytes; beyond that weed's /tmp default is kept.
    return [f"{flag}={path}"] if len(str(path)) < 100 else []


def weed_argv(binary: Path, layout: Layout, ports: Mapping[str, int]) -> list[str]:
    """``weed server`` with master, volume, filer and S3, every port explicit, no telemetry."""
    p = ports
    return [
        str(binary),
        "server",
        f"-ip={processes.LOOPBACK}",
        f"-ip.bind={processes.LOOPBACK}",
        f"-dir={layout.weed_data}",
        f"-master.port={p['master']}",
        f"-master.port.grpc={p['master_grpc']}",
        "-master.telemetry=false",
        # A lone master waits one election timeout after a restart before it leads.
        "-master.electionTimeout=1s",
        "-master.volumeSizeLimitMB=1024",
        f"-volume.port={p['volume']}",
        f"-volume.port.grpc={p['volume_grpc']}",
        "-volume.max=0",
        "-volume.preStopSeconds=0",
        "-filer",
        f"-filer.port={p['filer']}",
        f"-filer.port.grpc={p['filer_grpc']}",
        *socket_arg("-filer.localSocket", layout.dir(WEED) / "filer.sock"),
        "-s3",
        f"-s3.port={p['s3']}",
        f"-s3.port.grpc={p['s3_grpc']}",
        f"-s3.config={layout.s3_identities}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        *socket_arg("-s3.localSocket", layout.dir(WEED) / "s3.sock"),
    ]


def mqtt_url(ports: Mapping[str, int], *, tls: bool = False) -> str:
    return f"{'mqtts' if tls else 'mqtt'}://{processes.LOOPBACK}:{ports['mqtt']}"


def nats_url(ports: Mapping[str, int], *, tls: bool = False) -> str:
    """The address alone, fit for messages; clients need ``account_url``."""
    return f"{'tls' if tls else 'nats'}://{processes.LOOPBACK}:{ports['nats']}"


def account_url(account: NatsAccount, ports: Mapping[str, int], *, tls: bool = False) -> str:
    """The server's URL with ``account``'s credentials (the service's or the fleet's)."""
    return with_credentials(nats_url(ports, tls=tls), account.user, account.password)


def s3_endpoint(ports: Mapping[str, int]) -> str:
    return f"http://{processes.LOOPBACK}:{ports['s3']}"


def saved_credentials(layout: Layout) -> tuple[str, Secret] | None:
    """The keys weed was last configured with, if any."""
    try:
        doc = json.loads(layout.s3_identities.read_bytes())
        cred = doc["identities"][0]["credentials"][0]
        return str(cred["accessKey"]), Secret(str(cred["secretKey"]))
    except FileNotFoundError:
        return None
    except (ValueError, LookupError, TypeError):
        raise ServiceError(f"{layout.s3_identities} is corrupt; remove it") from None


def credentials(layout: Layout, settings: Settings) -> tuple[str, Secret]:
    """Keys from settings, else those of the last ``up``, else new ones."""
    if settings.s3_access_key and settings.s3_secret_key:
        return settings.s3_access_key, settings.s3_secret_key
    saved = saved_credentials(layout)
    if saved is not None:
        return saved
    alphabet = string.ascii_uppercase + string.digits
    access = "PL" + "".join(secrets.choice(alphabet) for _ in range(18))
    return access, Secret(secrets.token_urlsafe(30))


def write_identities(layout: Layout, access: str, secret: Secret) -> None:
    """weed's ``-s3.config``: one identity with every action; anonymous requests are refused."""
    identity = {
        "name": "peaceland",
        "credentials": [{"accessKey": access, "secretKey": secret.reveal()}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }
    doc = {"identities": [identity]}
    processes.write_private(layout.s3_identities, json.dumps(doc, indent=2).encode())


def read_ports(layout: Layout) -> dict[str, int]:
    try:
        raw = json.loads(layout.ports_file.read_bytes())
    except FileNotFoundError:
        return {}
    except ValueError:
        log.warning("ignoring corrupt %s", layout.ports_file)
        return {}
    # Cluster nodes' ports are named ``<node>.<role>`` (servers.topology).
    return {k: v for k, v in raw.items() if (k in ALL_PORTS or "." in k) and isinstance(v, int)}


def write_ports(layout: Layout, ports: Mapping[str, int]) -> None:
    merged = {**read_ports(layout), **ports}
    processes.write_private(layout.ports_file, json.dumps(merged, indent=2).encode())


def read_state(layout: Layout) -> ServicesState | None:
    try:
        return read_services_state(layout.root)
    except ConfigError as exc:
        log.warning("%s", exc)
        return None


def plan_ports(
    names: Iterable[str],
    *,
    explicit: Mapping[str, int],
    previous: Mapping[str, int],
    prefer_defaults: bool,
    reserved: set[int],
    defaults: Mapping[str, int] = ALL_PORTS,
) -> dict[str, int]:
    """Explicit ports must be free; otherwise the previous port, the default, or any free one."""
    chosen: dict[str, int] = {}
    for name in names:
        if name in explicit:
            port = explicit[name]
            if port in reserved or port in chosen.values() or not processes.port_is_free(port):
                raise ServiceError(f"port {port} requested for {name} is already in use")
        else:
            taken = reserved | set(chosen.values()) | set(explicit.values())
            wanted = [previous.get(name), defaults.get(name) if prefer_defaults else None]
            port = next(
                (p for p in wanted if p and p not in taken and processes.port_is_free(p)),
                None,
            ) or processes.free_port(avoid=taken)
            if name in previous and port != previous[name]:
                log.warning("%s port %d is taken now; using %d", name, previous[name], port)
        chosen[name] = port
    return chosen


def find(layout: Layout, name: str, state: ServicesState | None) -> int | None:
    hint = state.pids.get(name) if state else None
    return processes.find_server(KINDS[name].binary, layout.marker(name), hint)


def death_check(layout: Layout, name: str, pid: int) -> Callable[[], str | None]:
    def check() -> str | None:
        if processes.pid_alive(pid):
            return None
        tail = processes.log_tail(layout.log(name))
        return f"{KINDS[name].binary} (pid {pid}) exited; {layout.log(name)}: {tail}"

    return check


def log_context(layout: Layout, name: str | None) -> Callable[[], str]:
    """For a timeout message: the tail of the server's log, when we run that server."""

    def context() -> str:
        if name is None:
            return ""
        return f"; {layout.log(name)}: {processes.log_tail(layout.log(name))}"

    return context


def find_binary(name: str) -> Path:
    return processes.find_binary(KINDS[name].binary, KINDS[name].package)


def spawn(
    layout: Layout,
    name: str,
    binary: Path,
    ports: Mapping[str, int],
    tls: ServerTls | None = None,
) -> int:
    """Write the server's config, then start it detached; its output goes to its log."""
    if name == NATS:
        write_nats_config(layout, ports, nats_users(layout), tls)
        argv = [str(binary), "-c", str(layout.nats_conf)]
    else:
        argv = weed_argv(binary, layout, ports)
        remove_weed_sockets(ports)
    with layout.log(name).open("a") as fh:
        fh.write(f"\n===== peaceland up {time.strftime('%Y-%m-%dT%H:%M:%S%z')} =====\n")
    pid = processes.spawn(argv, cwd=layout.dir(name), log_path=layout.log(name))
    mine = {k: ports[k] for k in KINDS[name].default_ports}
    log.info("started %s pid %d (%s)", KINDS[name].binary, pid, processes.describe_ports(mine))
    return pid


def remove_weed_sockets(ports: Mapping[str, int]) -> None:
    """weed always adds gRPC Unix sockets under /tmp; remove ours once weed is gone."""
    for kind in ("master", "volume", "filer", "s3"):
        port = ports.get(f"{kind}_grpc")
        if port:
            remove_grpc_socket(kind, port)


def remove_grpc_socket(kind: str, port: int) -> None:
    """The socket weed's ``kind`` server (master, volume, filer, s3) left for gRPC ``port``,
    if it is one and ours."""
    path = Path(f"/tmp/seaweedfs-{kind}-grpc-{port}.sock")
    if path.is_socket() and path.stat().st_uid == os.getuid():
        path.unlink(missing_ok=True)
