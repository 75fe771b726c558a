"""The ``peaceland`` command line: parses arguments and calls the modules that do the work."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from peaceland import __version__
from peaceland.config import Settings, load_settings
from peaceland.errors import PeacelandError

DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory holding services.json, server data and logs "
    "[env PEACELAND_DATA_DIR; default .peaceland].",
)


def settings_from(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except PeacelandError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="peaceland")
def cli() -> None:
    """Peaceland: drone reports in, alerts out, every report archived and queryable.

    \b
    Quick start:
      peaceland up                      start the embedded NATS and S3 servers
      peaceland simulate --drones 100 --duration 60
      peaceland status
      peaceland down
    """


def main() -> None:
    """Console entry point: expected failures print one line and exit non-zero."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except PeacelandError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


@cli.command()
@DATA_DIR_OPTION
@click.option("--host", default=None, help="Interface to listen on [env PEACELAND_HTTP_HOST].")
@click.option("--port", type=int, default=None, help="Port [env PEACELAND_HTTP_PORT; 8080].")
def gateway(data_dir: Path | None, host: str | None, port: int | None) -> None:
    """Serve HTTP ingest: POST /api/v1/reports (one report or an array) and GET /healthz.

    \b
    Answers 202 only after JetStream acknowledged every accepted report.
    Example:
      peaceland gateway --port 8080
      curl -X POST localhost:8080/api/v1/reports -d @report.json
    """
    from peaceland.runtime import run_until_stopped, setup_logging
    from peaceland.web.gateway import run_gateway

    settings = settings_from(data_dir=data_dir, http_host=host, http_port=port)
    setup_logging(settings.log_level)
    run_until_stopped(lambda stop: run_gateway(settings, stop))


@cli.command()
@click.option("--drones", type=click.IntRange(min=1), required=True, help="Fleet size.")
@click.option(
    "--rate",
    type=click.FloatRange(min=0),
    default=None,
    help="Cap on reports/s overall; 0 = as fast as possible (simulated time fully compressed).",
)
@click.option("--count", type=click.IntRange(min=0), default=None, help="Total reports to send.")
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Wall seconds to run. Without --count or --duration: until Ctrl-C.",
)
@click.option(
    "--bad-rate",
    type=click.FloatRange(0, 1),
    default=0.005,
    show_default=True,
    help="Share of reports carrying an alerting citizen (peacescore < 20).",
)
@click.option("--seed", type=int, default=None, help="Random seed [default: random, printed].")
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Simulated minutes per wall minute: a drone reports every 60/K wall seconds.",
)
@click.option("--area", default=None, help='"lat_min,lon_min,lat_max,lon_max" [France].')
@click.option("--prefix", default="pw", show_default=True, help="Drone id prefix: pw-0001...")
@DATA_DIR_OPTION
def simulate(
    drones: int,
    rate: float | None,
    count: int | None,
    duration: float | None,
    bad_rate: float,
    seed: int | None,
    speed: float,
    area: str | None,
    prefix: str,
    data_dir: Path | None,
) -> None:
    """Simulate a fleet of drones publishing real reports to the REPORTS stream.

    \b
    Each drone sends one report per simulated minute.
    Examples:
      peaceland simulate --drones 100 --duration 60
      peaceland simulate --drones 1000 --rate 0 --count 100000 --seed 7
    """
    from peaceland.config import resolve_endpoints
    from peaceland.errors import ServiceError
    from peaceland.fleet import FRANCE, Area
    from peaceland.simulator import SimulationOptions, run_in_terminal

    settings = settings_from(data_dir=data_dir)
    options = SimulationOptions(
        drones=drones,
        rate=rate,
        count=count,
        duration=duration,
        bad_rate=bad_rate,
        seed=seed,
        speed=speed,
        area=Area.parse(area) if area is not None else FRANCE,
        prefix=prefix,
    )
    nats_url = settings.nats_url or resolve_endpoints(settings).nats_url
    summary = run_in_terminal(nats_url, options)
    click.echo(summary.describe())
    if summary.errors:
        raise ServiceError(f"{summary.errors:,} of {summary.sent:,} reports were not acknowledged")


# -- embedded servers: up / down / status ---------------------------------------------------------


def _port_option(name: str, default: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        f"--{name}-port",
        type=click.IntRange(1, 65535),
        default=None,
        help=f"{name.upper()} port; an error if taken [default {default} if free, else any].",
    )


@cli.command("up")
@DATA_DIR_OPTION
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
    Example:
      peaceland up --data-dir /var/lib/peaceland
    """
    from peaceland import services
    from peaceland.config import Secret, services_path

    settings = settings_from(data_dir=data_dir)
    wanted = {"nats": nats_port, "mqtt": mqtt_port, "s3": s3_port}
    report = services.start_services(
        settings,
        prefer_default_ports=not any_ports,
        ports={k: v for k, v in wanted.items() if v is not None},
        timeout=timeout,
    )
    state = report.state
    lines = {
        services.NATS: (state.nats_url, f"mqtt {state.mqtt_url}, monitor {state.nats_monitor_url}"),
        services.WEED: (state.s3_endpoint, f"bucket {state.s3_bucket}"),
    }
    for name, (address, extra) in lines.items():
        if name in report.started or name in report.reused:
            verdict = "started" if name in report.started else "already running"
            click.echo(f"{name:<5} {verdict:<16} {address}  pid {state.pids[name]}  ({extra})")
        else:
            click.echo(f"{name:<5} {'external':<16} {address}")
    if state.s3_access_key:
        click.echo(
            f"S3 access key {Secret(state.s3_access_key).masked()}  secret key "
            f"{Secret(state.s3_secret_key).masked()}  "
            f"(in {services_path(settings.data_dir)}, mode 0600)"
        )
    click.echo(f"ready in {report.elapsed_s:.1f} s")


@cli.command("down")
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
    """
    from peaceland import services

    settings = settings_from(data_dir=data_dir)
    click.echo(f"stopping the servers of {settings.data_dir} (weed takes about 15 s)...", err=True)
    stopped = services.stop_services(settings, grace=grace)
    if not stopped:
        click.echo(f"nothing running in {settings.data_dir}")
    for name, pid in stopped.items():
        click.echo(f"{name:<5} stopped (pid {pid})")


@cli.command("status")
@DATA_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status_command(data_dir: Path | None, as_json: bool) -> None:
    """Show each server: address, pid, health (running / stopped / unhealthy), stream sizes."""
    import dataclasses
    import json

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from peaceland import services

    statuses = services.status(settings_from(data_dir=data_dir))
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(s) for s in statuses], indent=2))
        return
    colour = {"running": "green", "stopped": "yellow", "unhealthy": "red"}
    table = Table("server", "health", "address", "pid", "details", box=None)
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
            escape("\n".join(details)),
        )
    Console().print(table)
