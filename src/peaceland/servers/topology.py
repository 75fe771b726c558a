"""Which server processes ``peaceland up --nodes N`` runs, their names and their ports (pure).

One node (N = 1) is two processes: ``nats`` and an all-in-one ``weed server``. A cluster
(N ≥ 2) is N ``nats-server`` nodes joined by routes, and a SeaweedFS cluster of ``min(3, N)``
masters (Raft), N volume servers, one filer and one S3 gateway: every process separate, as on
real machines, so that each one can fail alone. Streams, buckets and archive objects are kept
on ``min(3, N)`` NATS nodes and on two volume servers.

Ports are named ``<node>.<role>`` (``nats-2.client``, ``weed-volume-3.grpc``); the first node
of each kind defaults to the single-node port, the next ones to the ports after it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Final, Literal

NodeKind = Literal["nats", "weed-master", "weed-volume", "weed-filer", "weed-s3", "weed-server"]

MAX_NODES: Final = 9
#: Copies of every stream and bucket (JetStream replicas; odd so a majority survives one loss).
MAX_REPLICAS: Final = 3
#: SeaweedFS placement: one more copy on another server of the same rack (two in all).
WEED_REPLICATION: Final = "001"

#: Port roles of each kind, with the default port of its first node.
ROLE_DEFAULTS: Final[Mapping[str, Mapping[str, int]]] = {
    "nats": {"client": 4222, "monitor": 8222, "cluster": 6222, "mqtt": 1883},
    "weed-master": {"http": 9333, "grpc": 19333},
    # weed's volume default 8080 is the Peaceland HTTP default.
    "weed-volume": {"http": 9340, "grpc": 19340},
    "weed-filer": {"http": 8888, "grpc": 18888},
    "weed-s3": {"http": 8333, "grpc": 18333},
}


@dataclasses.dataclass(frozen=True, slots=True)
class Node:
    """One server process of a cluster."""

    name: str
    kind: NodeKind
    index: int  # 1-based, within its kind

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(ROLE_DEFAULTS[self.kind])

    def port_key(self, role: str) -> str:
        return f"{self.name}.{role}"

    @property
    def port_keys(self) -> tuple[str, ...]:
        return tuple(self.port_key(role) for role in self.roles)

    def default_ports(self) -> dict[str, int]:
        return {
            self.port_key(role): port + self.index - 1
            for role, port in ROLE_DEFAULTS[self.kind].items()
        }

    @property
    def binary(self) -> str:
        return "nats-server" if self.kind == "nats" else "weed"

    @property
    def is_nats(self) -> bool:
        return self.kind == "nats"


def replicas(nodes: int) -> int:
    """Copies of each stream and bucket on ``nodes`` NATS nodes."""
    return min(MAX_REPLICAS, nodes)


def cluster_nodes(nodes: int) -> tuple[Node, ...]:
    """The processes of an N-node cluster, in start order (masters before their clients)."""
    if not 2 <= nodes <= MAX_NODES:
        raise ValueError(f"a cluster has 2 to {MAX_NODES} nodes, not {nodes}")

    def of(kind: NodeKind, count: int) -> list[Node]:
        return [Node(f"{kind}-{i}", kind, i) for i in range(1, count + 1)]

    return tuple(
        of("nats", nodes)
        + of("weed-master", replicas(nodes))
        + of("weed-volume", nodes)
        + of("weed-filer", 1)
        + of("weed-s3", 1)
    )


def port_defaults(nodes: tuple[Node, ...]) -> dict[str, int]:
    return {key: port for node in nodes for key, port in node.default_ports().items()}


#: ``up --nats-port/--mqtt-port/--s3-port`` name these ports of a cluster.
CLUSTER_PORT_ALIASES: Final[Mapping[str, str]] = {
    "nats": "nats-1.client",
    "mqtt": "nats-1.mqtt",
    "s3": "weed-s3-1.http",
}
