"""The cluster's processes, ports, configurations and command lines (pure: no server runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from peaceland.contract import ConfigError
from peaceland.servers import nodes
from peaceland.servers.cluster import explicit_ports, stop_tiers
from peaceland.servers.embedded import NatsAccount, NatsUsers
from peaceland.servers.layout import Layout
from peaceland.servers.topology import cluster_nodes, port_defaults, replicas


def test_a_three_node_cluster_has_the_contract_processes_in_start_order() -> None:
    names = [node.name for node in cluster_nodes(3)]
    assert names == [
        "nats-1", "nats-2", "nats-3",
        "weed-master-1", "weed-master-2", "weed-master-3",
        "weed-volume-1", "weed-volume-2", "weed-volume-3",
        "weed-filer-1", "weed-s3-1",
    ]  # fmt: skip


def test_masters_and_replicas_stop_at_three() -> None:
    kinds = [node.kind for node in cluster_nodes(5)]
    assert kinds.count("nats") == 5
    assert kinds.count("weed-master") == 3
    assert kinds.count("weed-volume") == 5
    assert [replicas(n) for n in (1, 2, 3, 5)] == [1, 2, 3, 3]


@pytest.mark.parametrize("size", [0, 1, 10])
def test_a_cluster_has_two_to_nine_nodes(size: int) -> None:
    with pytest.raises(ValueError, match="2 to 9"):
        cluster_nodes(size)


def test_default_ports_start_at_the_single_node_ones_and_never_collide() -> None:
    ports = port_defaults(cluster_nodes(3))
    assert ports["nats-1.client"] == 4222
    assert ports["nats-2.client"] == 4223
    assert ports["weed-s3-1.http"] == 8333
    assert len(set(ports.values())) == len(ports)


def test_ports_are_asked_by_alias_or_by_node_and_role() -> None:
    cluster = cluster_nodes(3)
    asked = explicit_ports({"nats": 5000, "weed-volume-2.grpc": 5001}, cluster)
    assert asked == {"nats-1.client": 5000, "weed-volume-2.grpc": 5001}
    with pytest.raises(ConfigError, match=r"unknown port name 'nats-9\.client'"):
        explicit_ports({"nats-9.client": 5002}, cluster)


def _ports() -> dict[str, int]:
    return port_defaults(cluster_nodes(3))


def _users() -> NatsUsers:
    account = NatsAccount("peaceland", "pw", "$2a$11$hash")
    return NatsUsers(service=account, fleet=NatsAccount("fleet", "pw2", "$2a$11$h2"), drones={})


def test_a_nats_node_names_itself_and_routes_to_the_other_nodes(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.dir("nats").mkdir()
    cluster = cluster_nodes(3)
    text = nodes.nats_node_config(layout, cluster[1], cluster, _ports(), _users(), None)
    assert 'server_name: "nats-2"' in text
    assert 'listen: "127.0.0.1:6223"' in text
    assert "@127.0.0.1:6222" in text
    assert "@127.0.0.1:6224" in text
    assert "@127.0.0.1:6223" not in text  # no route to itself
    assert str(tmp_path / "nats-2" / "store") in text
    secret = nodes.route_secret(layout)
    assert f"route:{secret}@" in text  # routes authenticate
    assert (layout.dir("nats") / "route.secret").stat().st_mode & 0o077 == 0


def test_weed_nodes_point_at_every_master_with_explicit_grpc_ports(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    cluster = cluster_nodes(3)
    by_name = {node.name: node for node in cluster}
    masters = "-master=127.0.0.1:9333.19333,127.0.0.1:9334.19334,127.0.0.1:9335.19335"
    volume = nodes.weed_argv(Path("weed"), layout, by_name["weed-volume-3"], cluster, _ports())
    assert volume[:2] == ["weed", "volume"]
    assert masters in volume
    assert f"-dir={tmp_path / 'weed-volume-3'}" in volume
    master = nodes.weed_argv(Path("weed"), layout, by_name["weed-master-2"], cluster, _ports())
    assert "-peers=" + masters.removeprefix("-master=") in master
    assert "-defaultReplication=001" in master
    s3 = nodes.weed_argv(Path("weed"), layout, by_name["weed-s3-1"], cluster, _ports())
    assert "-filer=127.0.0.1:8888.18888" in s3


def test_each_node_has_a_marker_of_its_own(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    cluster = cluster_nodes(3)
    markers = [nodes.marker(layout, node) for node in cluster]
    assert len(set(markers)) == len(markers)
    for node, mark in zip(cluster, markers, strict=True):
        if node.binary == "weed":
            argv = nodes.weed_argv(Path("weed"), layout, node, cluster, _ports())
            assert mark in argv
            others = [m for m in markers if m != mark]
            assert not any(other in arg for other in others for arg in argv)


def test_gateways_stop_before_volume_servers_before_masters() -> None:
    names = [node.name for node in cluster_nodes(3)] + ["nats", "weed"]
    tiers = stop_tiers(reversed(names))
    assert sorted(tiers[0]) == ["weed-filer-1", "weed-s3-1"]
    assert sorted(tiers[1]) == ["weed-volume-1", "weed-volume-2", "weed-volume-3"]
    assert {"weed-master-1", "nats-3", "weed"} <= set(tiers[2])
