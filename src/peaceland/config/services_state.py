"""``<data_dir>/services.json``: what ``peaceland up`` started, where, with which credentials."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from peaceland.contract import ConfigError

SERVICES_FILE = "services.json"


class NodeState(msgspec.Struct, kw_only=True):
    """One server process ``peaceland up`` started."""

    name: str
    #: ``nats``, ``weed-master``, ``weed-volume``, ``weed-filer``, ``weed-s3``; ``weed-server``
    #: for the single node's all-in-one SeaweedFS.
    kind: str
    pid: int
    #: Its client address (no credentials).
    url: str


class ServicesState(msgspec.Struct, kw_only=True):
    """The content of ``<data_dir>/services.json`` (mode 0600: it holds credentials)."""

    nats_url: str
    s3_endpoint: str
    s3_bucket: str
    s3_access_key: str
    s3_secret_key: str
    #: The fleet role: may only publish reports (simulator, tests, trusted relays).
    drone_nats_url: str | None = None
    mqtt_url: str | None = None
    nats_monitor_url: str | None = None
    pids: dict[str, int] = msgspec.field(default_factory=dict)
    ports: dict[str, int] = msgspec.field(default_factory=dict)
    #: One URL with the service's credentials per NATS node; ``nats_url`` joins them with
    #: commas, which every client accepts.
    nats_urls: list[str] = msgspec.field(default_factory=list)
    #: The same for the fleet role.
    drone_nats_urls: list[str] = msgspec.field(default_factory=list)
    #: Every process started, in start order.
    nodes: list[NodeState] = msgspec.field(default_factory=list)


def services_path(data_dir: Path) -> Path:
    return data_dir / SERVICES_FILE


def read_services_state(data_dir: Path) -> ServicesState | None:
    path = services_path(data_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return msgspec.json.decode(raw, type=ServicesState)
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path} is corrupt ({exc}); run `peaceland down` then `up`") from None


def write_services_state(data_dir: Path, state: ServicesState) -> Path:
    """Write atomically, created with mode 0600 so credentials are never world-readable."""
    path = services_path(data_dir)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(msgspec.json.format(msgspec.json.encode(state)))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path
