"""The embedded servers: ``up``, ``down``, ``status``; ``run`` and ``demo`` in the foreground."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from peaceland.servers.services import UpReport

from peaceland.cli.options import (
    DATA_DIR_OPTION,
    JSON_TABLE_OPTION,
    settings_from,
)

NODES_OPTION = click.option(
    "--nodes",
    type=click.IntRange(1, 9),
    default=None,
    help="1: a single node; 2-9: a cluster of N NATS nodes and a SeaweedFS cluster "
    "[default: what the data dir holds, else 1].",
)


def _port_option(name: str, default: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        f"--{name}-port",
        type=click.IntRange(1, 65535),
        default=None,
        help=f"{name.upper()} port; an error if taken [default {default} if free, else any].",
    )


@click.command("up")
@DATA_DIR_OPTION
@NODES_OPTION
@_port_option("nats", 4222)
@_port_option("mqtt", 1883)
@_port_option("s3", 8333)
@click.option(
    "--any-ports",
    is_flag=True,
    help="Pick free ports rather than the defaults (ports of a previous run are still reused).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds to wait for the servers to answer.",
)
def up_command(
    data_dir: Path | None,
    nodes: int | None,
    nats_port: int | None,
    mqtt_port: int | None,
    s3_port: int | None,
    any_ports: bool,
    timeout: float,
) -> None:
    """Start the embedded NATS (JetStream, MQTT) and SeaweedFS (S3) servers.

    \b
    Idempotent: running servers are left alone, dead ones restart on their ports.
    With PEACELAND_NATS_URL / PEACELAND_S3_ENDPOINT set, that server is external:
    nothing is started for it, but the streams / the bucket are created on it.
    With --nodes N (N >= 2): N NATS nodes (streams replicated on min(3, N)),
    min(3, N) SeaweedFS masters, N volume servers (every object on two), a filer
    and an S3 gateway; --nats-port, --mqtt-port, --s3-port name the first ones.
    Examples:
      peaceland up --data-dir /var/lib/peaceland
      peaceland up --nodes 3 --data-dir /var/lib/peaceland-cluster
    """
    from peaceland.config import Secret, services_path
    from peaceland.servers import services

    settings = settings_from(data_dir=data_dir)
    wanted = {"nats": nats_port, "mqtt": mqtt_port, "s3": s3_port}
    report = services.start_services(
        settings,
        nodes=nodes,
        prefer_default_ports=not any_ports,
        ports={k: v for k, v in wanted.items() if v is not None},
        timeout=timeout,
    )
    state = report.state
    if len(state.nodes) > 2:  # a cluster
        _echo_nodes(report)
    else:
        _echo_single(report)
    if state.s3_access_key:
        click.echo(
            f"S3 access key {Secret(state.s3_access_key).masked()}  secret key "
            f"{Secret(state.s3_secret_key).masked()}  "
            f"(in {services_path(settings.data_dir)}, mode 0600)"
        )
    click.echo(
        "NATS users: service and fleet (drones) passwords in "
        f"{services_path(settings.data_dir)}; anonymous clients are refused"
    )
    click.echo(f"ready in {report.elapsed_s:.1f} s")


def _echo_single(report: UpReport) -> None:
    from peaceland.servers import services
    from peaceland.stream import redact

    state = report.state
    lines = {
        services.NATS: (
            redact(state.nats_url),
            f"mqtt {state.mqtt_url}, monitor {state.nats_monitor_url}",
        ),
        services.WEED: (state.s3_endpoint, f"bucket {state.s3_bucket}"),
    }
    for name, (address, extra) in lines.items():
        if name in report.started or name in report.reused:
            verdict = "started" if name in report.started else "already running"
            click.echo(f"{name:<5} {verdict:<16} {address}  pid {state.pids[name]}  ({extra})")
        else:
            click.echo(f"{name:<5} {'external':<16} {address}")


def _echo_nodes(report: UpReport) -> None:
    state = report.state
    for node in state.nodes:
        verdict = "started" if node.name in report.started else "already running"
        click.echo(f"{node.name:<14} {verdict:<16} {node.url}  pid {node.pid}")
    click.echo(f"mqtt {state.mqtt_url}, monitor {state.nats_monitor_url}, bucket {state.s3_bucket}")


@click.command("down")
@DATA_DIR_OPTION
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds between SIGTERM and SIGKILL.",
)
def down_command(data_dir: Path | None, grace: float) -> None:
    """Stop the servers `peaceland up` started (external servers are left alone).

    Data, ports and credentials are kept: the next `up` serves the same data.

    \b
    Examples:
      peaceland down
      peaceland down --data-dir /var/lib/peaceland --grace 5
    """
    from peaceland.servers import services

    settings = settings_from(data_dir=data_dir)
    click.echo(f"stopping the servers of {settings.data_dir} (weed takes about 15 s)...", err=True)
    stopped = services.stop_services(settings, grace=grace)
    if not stopped:
        click.echo(f"nothing running in {settings.data_dir}")
    for name, pid in stopped.items():
        click.echo(f"{name:<5} stopped (pid {pid})")


@click.command("status")
@DATA_DIR_OPTION
@JSON_TABLE_OPTION
def status_command(data_dir: Path | None, as_json: bool) -> None:
    """Show each server: address, pid, health (running / stopped / unhealthy), stream sizes.

    \b
    Examples:
      peaceland status
      peaceland status --json | jq .
    """
    import dataclasses
    import json

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from peaceland.servers import services

    statuses = services.status(settings_from(data_dir=data_dir))
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(s) for s in statuses], indent=2))
        return
    colour = {"running": "green", "stopped": "yellow", "unhealthy": "red"}
    table = Table("server", "health", "address", "pid", "role", "details", box=None)
    for s in statuses:
        details = [f"{k} {v}" for k, v in s.endpoints.items()]
        if s.streams is not None:
            details.append(
                ", ".join(f"{k} {'-' if v is None else v}" for k, v in s.streams.items())
            )
        if s.detail:
            details.append(s.detail)
        table.add_row(
            s.name,
            f"[{colour[s.health]}]{s.health}[/]",
            escape(s.address or "-") + (" (external)" if s.external else ""),
            str(s.pid or "-"),
            escape(s.role.replace("; ", "\n") or "-"),
            escape("\n".join(details)),
        )
    Console().print(table)


@click.command("run")
@DATA_DIR_OPTION
@NODES_OPTION
def run_command(data_dir: Path | None, nodes: int | None) -> None:
    """Start the servers and every component in the foreground; Ctrl-C stops all cleanly.

    \b
    Runs `up`, then gateway, alerter and archiver as supervised processes (restarted
    if they die), with a live summary: stream sizes, consumer lag, component health.
    Component logs go to D/logs/. Example:
      peaceland run --data-dir /var/lib/peaceland
    """
    from peaceland.runtime import run_foreground, setup_logging

    settings = settings_from(data_dir=data_dir)
    setup_logging("WARNING", settings.log_format)
    run_foreground(settings, nodes=nodes)


@click.command("demo")
@DATA_DIR_OPTION
@NODES_OPTION
def demo_command(data_dir: Path | None, nodes: int | None) -> None:
    """`run` plus a simulated fleet of 600 drones, about 2 % of reports alerting.

    \b
    Alerts start within a minute. Ctrl-C stops everything. Example:
      peaceland demo
    """
    from peaceland.runtime import run_foreground, setup_logging

    settings = settings_from(data_dir=data_dir)
    setup_logging("WARNING", settings.log_format)
    run_foreground(settings, demo=True, nodes=nodes)


COMMANDS = (up_command, down_command, status_command, run_command, demo_command)
