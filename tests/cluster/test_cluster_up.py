"""``peaceland up --nodes 3``: every node started, listed and healthy; replicated streams and
buckets; only dead nodes restarted; a dead URL of the list tolerated; drones enrolled on every
node; a node that cannot start leaves nothing behind."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from peaceland.config import read_services_state
from peaceland.contract import ServiceError, report_subject
from peaceland.servers import nodes, processes, services
from peaceland.stream import STREAMS, OutMessage, Publisher, connect
from peaceland.testing import Stack, stack_settings

pytestmark = pytest.mark.slow

KINDS = ["nats"] * 3 + ["weed-master"] * 3 + ["weed-volume"] * 3 + ["weed-filer", "weed-s3"]
BUCKETS = ("KV_INCIDENTS", "KV_TOKENS", "KV_LEASES")


def ours(data_dir: Path) -> list[int]:
    """Every live process whose command line names the data dir."""
    return [
        int(entry.name)
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit()
        and processes.pid_alive(int(entry.name))
        and any(str(data_dir) in arg for arg in processes.cmdline(int(entry.name)) or [])
    ]


def test_services_json_lists_every_node_with_its_url_and_pid(cluster: Stack) -> None:
    raw = json.loads((cluster.data_dir / "services.json").read_text())
    assert [node["kind"] for node in raw["nodes"]] == KINDS
    assert len(raw["nats_urls"]) == len(raw["drone_nats_urls"]) == 3
    assert raw["nats_url"] == ",".join(raw["nats_urls"])
    for node in raw["nodes"]:
        assert processes.pid_alive(node["pid"]), node
        assert node["url"].startswith("nats://" if node["kind"] == "nats" else "http://")
        assert "@" not in node["url"]  # no credentials in the node list
    assert sorted(ours(cluster.data_dir)) == sorted(node["pid"] for node in raw["nodes"])


async def test_streams_and_buckets_are_kept_on_three_nodes(cluster: Stack) -> None:
    nc = await connect(cluster.state.nats_url, "test-replicas")
    try:
        js = nc.jetstream()
        for name in [spec.name for spec in STREAMS] + list(BUCKETS):
            info = await js.stream_info(name)
            assert info.config.num_replicas == 3, name
            assert info.cluster is not None
            assert info.cluster.leader is not None
            assert len(info.cluster.replicas or []) == 2, name
    finally:
        await nc.close()


def test_status_shows_every_node_and_the_leaders(cluster: Stack) -> None:
    rows = {row.name: row for row in services.status(cluster.settings)}
    assert {row.health for row in rows.values()} == {"running"}
    assert rows["nats"].streams is not None
    roles = " ".join(row.role for row in rows.values())
    assert roles.count("meta leader") == 1
    assert roles.count("raft leader") == 1
    for spec in STREAMS:
        assert spec.name in roles  # every stream has a leader shown
    masters = [row for row in rows.values() if row.kind == "weed-master"]
    assert sorted(row.role for row in masters) == ["follower", "follower", "raft leader"]


def test_up_restarts_only_the_nodes_that_died(cluster: Stack) -> None:
    before = read_services_state(cluster.data_dir)
    assert before is not None
    cluster.kill("nats-2")
    cluster.kill("weed-volume-1")
    report = services.start_services(cluster.settings, prefer_default_ports=False)
    assert sorted(report.started) == ["nats-2", "weed-volume-1"]
    after = report.state
    for name, pid in after.pids.items():
        assert (pid != before.pids[name]) == (name in report.started), name
    assert after.ports == before.ports
    assert after.nats_urls == before.nats_urls


async def test_a_dead_node_in_the_url_list_is_skipped(cluster: Stack) -> None:
    cluster.kill("nats-1")  # the first URL of the list
    fleet = cluster.state.drone_nats_url
    assert fleet is not None
    nc = await connect(fleet, "test-dead-url", inbox_prefix="_INBOX")
    try:
        # The dead node may have led REPORTS: the publisher retries through the election.
        publisher = Publisher(nc, timeout=60)
        ack = await publisher.publish(OutMessage(report_subject("d-1"), b"{}", msg_id="d-1:0"))
        assert ack.stream == "REPORTS"
    finally:
        await nc.close()


async def test_an_enrolled_drone_logs_in_on_every_node(cluster: Stack) -> None:
    creds = services.enroll_drone(cluster.settings, "d-42")
    urls = creds.nats_url.split(",")
    assert len(urls) == 3
    for url in urls:
        nc = await connect(url, "test-drone", inbox_prefix=creds.inbox_prefix)
        await nc.close()


def test_a_node_that_cannot_start_stops_every_node_this_up_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = nodes.weed_argv

    def broken(binary: Path, layout: object, node: object, *rest: object) -> list[str]:
        argv = real(binary, layout, node, *rest)  # type: ignore[arg-type]
        return [*argv, "-no-such-flag"] if argv[1] == "s3" else argv

    monkeypatch.setattr(nodes, "weed_argv", broken)
    settings = stack_settings(tmp_path / "broken")
    with pytest.raises(ServiceError, match=r"weed-s3-1 .* exited") as failure:
        services.up(settings, nodes=3, prefer_default_ports=False, timeout=60)
    assert "\n" not in str(failure.value)
    assert ours(tmp_path / "broken") == []
    assert not (tmp_path / "broken" / "services.json").exists()


def test_a_port_taken_is_a_one_line_error_and_nothing_starts(tmp_path: Path) -> None:
    data_dir = tmp_path / "taken"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "peaceland", "up", "--nodes", "3", "--any-ports",
             "--data-dir", str(data_dir), "--nats-port", str(port)],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert result.returncode != 0
    assert f"port {port} requested for nats-1.client is already in use" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert ours(data_dir) == []


def test_a_data_dir_keeps_its_size(cluster: Stack) -> None:
    with pytest.raises(ServiceError, match="holds a 3-node cluster"):
        services.up(cluster.settings, nodes=1)
    with pytest.raises(ServiceError, match="holds a 3-node cluster"):
        services.up(cluster.settings, nodes=5)


def state_of(pid: int) -> str:
    """The process state letter of /proc/<pid>/stat (R, S, T for stopped...)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rfind(")") + 2]


def test_sigstop_and_sigcont_reach_a_node(cluster: Stack) -> None:
    pid = cluster.kill("nats-3", signal.SIGSTOP)  # returns once stopped: it never exits
    try:
        assert state_of(pid) == "T"
    finally:
        cluster.kill("nats-3", signal.SIGCONT)
    assert state_of(pid) != "T"
