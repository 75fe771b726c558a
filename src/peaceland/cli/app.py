"""The ``peaceland`` command line: parses arguments and calls the modules that do the work."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from peaceland import __version__
from peaceland.config import Settings, load_settings
from peaceland.contract import PeacelandError

DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory holding services.json, server data and logs "
    "[env PEACELAND_DATA_DIR; default .peaceland].",
)


def settings_from(**overrides: Any) -> Settings:
    try:
        settings = load_settings(**overrides)
    except PeacelandError as exc:
        raise click.ClickException(str(exc)) from None
    return settings


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
    """Serve HTTP: ingest, alerts (list and live SSE stream) and incidents.

    \b
    POST /api/v1/reports        one report or an array; 202 once JetStream has them
    GET  /api/v1/alerts         recent alerts, newest first (?since=&limit=&status=&severity=)
    GET  /api/v1/alerts/stream  Server-Sent Events; resumes with Last-Event-ID
    GET  /api/v1/incidents      incidents (?status=); POST .../<id>/ack and .../<id>/resolve
    GET  /healthz
    GET  /                      the officers' dashboard (console, map, fleet, analytics)
    Also groups alerts into incidents (durable `incidents`, shared by all gateways).
    Example:
      peaceland gateway --port 8080
      curl -X POST localhost:8080/api/v1/reports -d @report.json
      curl -N localhost:8080/api/v1/alerts/stream
    """
    from peaceland.runtime import run_until_stopped, setup_logging
    from peaceland.web import run_web

    settings = settings_from(data_dir=data_dir, http_host=host, http_port=port)
    setup_logging(settings.log_level)
    run_until_stopped(lambda stop: run_web(settings, stop))


@cli.command("dashboard")
@DATA_DIR_OPTION
@click.option("--host", default=None, help="Interface to listen on [env PEACELAND_HTTP_HOST].")
@click.option("--port", type=int, default=None, help="Port [env PEACELAND_HTTP_PORT; 8080].")
def dashboard_command(data_dir: Path | None, host: str | None, port: int | None) -> None:
    """Serve the officers' dashboard at / (the same application as `peaceland gateway`).

    \b
    Live console of incidents and alerts (SSE), map, fleet view and analytics; with the
    API it reads. Run it apart from the gateways that take drone traffic, on another port
    or machine, so officers never compete with ingest. The map works offline; set
    PEACELAND_MAP_TILES_URL (https://tiles.example/{z}/{x}/{y}.png) to use a tile server.
    Example:
      peaceland dashboard --port 8081    # then open http://127.0.0.1:8081/
    """
    from peaceland.runtime import run_until_stopped, setup_logging
    from peaceland.web import run_web

    settings = settings_from(data_dir=data_dir, http_host=host, http_port=port)
    setup_logging(settings.log_level)
    run_until_stopped(lambda stop: run_web(settings, stop))


@cli.command("alerter")
@DATA_DIR_OPTION
@click.option(
    "--durable",
    default="alerter",
    show_default=True,
    help="Durable consumer on REPORTS; alerters with the same name share the work.",
)
@click.option(
    "--filter-subject",
    default=None,
    help="Only reports on this subject, e.g. peaceland.reports.pw-0001 [all reports].",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 10_000),
    default=512,
    show_default=True,
    help="Pull request size and most reports handled at once (never waited for).",
)
@click.option(
    "--fast-path/--no-fast-path",
    default=True,
    show_default=True,
    help="Also watch reports as they are published (core NATS), raising their alerts "
    "before JetStream has stored them; the durable consumer still guarantees each one.",
)
def alerter_command(
    data_dir: Path | None, durable: str, filter_subject: str | None, batch: int, fast_path: bool
) -> None:
    """Raise alerts: REPORTS → rules → ALERTS (peaceland.alerts.<drone_id>).

    \b
    Each citizen with peacescore < PEACELAND_ALERT_THRESHOLD (default 20) raises
    one alert; invalid reports go to DEADLETTER with the reason.
    Each report is acknowledged only once its alerts are stored; run several
    alerters to share the load. SIGTERM / Ctrl-C finishes the batch in hand.
    Examples:
      peaceland alerter
      peaceland alerter & peaceland alerter          two processes, no duplicate alert
      PEACELAND_ALERT_THRESHOLD=15 peaceland alerter --data-dir /var/lib/peaceland
    """
    import asyncio

    from peaceland.alerting import AlerterOptions, run_alerter
    from peaceland.runtime import run_until_stopped, setup_logging

    settings = settings_from(data_dir=data_dir)
    setup_logging(settings.log_level)
    options = AlerterOptions(
        durable=durable, filter_subject=filter_subject, batch=batch, fast_path=fast_path
    )

    async def main(stop: asyncio.Event) -> None:
        await run_alerter(settings, stop, options)

    run_until_stopped(main)


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
    from peaceland.contract import ServiceError
    from peaceland.ingest import FRANCE, Area, SimulationOptions, run_in_terminal

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
    endpoints = resolve_endpoints(settings)
    summary = run_in_terminal(endpoints.publisher_url, options, tls_ca=endpoints.nats_tls_ca)
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
    from peaceland.config import Secret, services_path
    from peaceland.servers import services
    from peaceland.stream import redact

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


@cli.command("status")
@DATA_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
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


@cli.command("run")
@DATA_DIR_OPTION
def run_command(data_dir: Path | None) -> None:
    """Start the servers and every component in the foreground; Ctrl-C stops all cleanly.

    \b
    Runs `up`, then gateway, alerter and archiver as supervised processes (restarted
    if they die), with a live summary: stream sizes, consumer lag, component health.
    Component logs go to D/logs/. Example:
      peaceland run --data-dir /var/lib/peaceland
    """
    from peaceland.runtime import run_foreground, setup_logging

    settings = settings_from(data_dir=data_dir)
    setup_logging("WARNING")
    run_foreground(settings)


@cli.command("demo")
@DATA_DIR_OPTION
def demo_command(data_dir: Path | None) -> None:
    """`run` plus a simulated fleet of 600 drones, about 2 % of reports alerting.

    \b
    Alerts start within a minute. Ctrl-C stops everything. Example:
      peaceland demo
    """
    from peaceland.runtime import run_foreground, setup_logging

    settings = settings_from(data_dir=data_dir)
    setup_logging("WARNING")
    run_foreground(settings, demo=True)


# -- the archive ----------------------------------------------------------------------------------

ARCHIVE_KINDS = ("reports", "alerts", "deadletter")


@cli.command("archiver")
@DATA_DIR_OPTION
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(ARCHIVE_KINDS),
    help="What to archive; repeat for several [default: all three].",
)
@click.option(
    "--durable",
    default="archiver",
    show_default=True,
    help="Durable consumer name; archivers with the same name share the work.",
)
@click.option(
    "--filter-subject",
    default=None,
    help="Only messages on this subject (with a single --kind), e.g. peaceland.reports.pw-0001.",
)
@click.option(
    "--key-prefix",
    default="",
    help="Prepended to every object key, to keep several archives in one bucket [none].",
)
@click.option(
    "--max-rows",
    type=click.IntRange(min=1),
    default=None,
    help="Flush a batch at this many rows [env PEACELAND_ARCHIVE_MAX_ROWS; 100000].",
)
@click.option(
    "--max-bytes",
    type=click.IntRange(min=1),
    default=None,
    help="... or this many payload bytes [env PEACELAND_ARCHIVE_MAX_BYTES; 64 MiB].",
)
@click.option(
    "--max-age",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="... or when its oldest message is this old, in s [env PEACELAND_ARCHIVE_MAX_AGE; 10].",
)
@click.option(
    "--ack-wait",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds before JetStream redelivers a message an archiver took and never settled.",
)
def archiver_command(
    data_dir: Path | None,
    kinds: tuple[str, ...],
    durable: str,
    filter_subject: str | None,
    key_prefix: str,
    max_rows: int | None,
    max_bytes: int | None,
    max_age: float | None,
    ack_wait: float,
) -> None:
    """Archive REPORTS, ALERTS and DEADLETTER as Parquet (zstd) objects on S3.

    \b
    reports/date=YYYY-MM-DD/hour=HH/  alerts/date=.../hour=../  deadletter/date=.../
    Partitioned by event time (UTC); messages are acknowledged only once written.
    Run several archivers to share the load. SIGTERM / Ctrl-C writes what is held.
    Examples:
      peaceland archiver
      peaceland archiver --kind reports --max-age 5
    """
    import asyncio

    from peaceland.archive import ArchiverOptions, FlushPolicy, PipelineOptions, run_archiver
    from peaceland.runtime import run_until_stopped, setup_logging

    settings = settings_from(
        data_dir=data_dir,
        archive_max_rows=max_rows,
        archive_max_bytes=max_bytes,
        archive_max_age_s=max_age,
    )
    setup_logging(settings.log_level)
    policy = FlushPolicy(
        settings.archive_max_rows, settings.archive_max_bytes, settings.archive_max_age_s
    )
    options = ArchiverOptions(
        kinds=kinds or ARCHIVE_KINDS,  # type: ignore[arg-type]  # click.Choice checked them
        durable=durable,
        filter_subject=filter_subject,
        pipeline=PipelineOptions(policy=policy, key_prefix=key_prefix, ack_wait_s=ack_wait),
    )

    async def main(stop: asyncio.Event) -> None:
        await run_archiver(settings, stop, options)

    run_until_stopped(main)


@cli.group("archive")
def archive_group() -> None:
    """Look after the Parquet archive on S3."""


@archive_group.command("status")
@DATA_DIR_OPTION
@click.option("--durable", default="archiver", show_default=True, help="Consumer name.")
@click.option("--key-prefix", default="", help="As given to `peaceland archiver` [none].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def archive_status_command(
    data_dir: Path | None, durable: str, key_prefix: str, as_json: bool
) -> None:
    """Per consumer: pending messages (lag), in flight, objects, rows and bytes written,
    and the last flush (the newest object).

    \b
    Examples:
      peaceland archive status
      peaceland archive status --json
    """
    import asyncio
    import dataclasses
    import json

    from rich.console import Console
    from rich.table import Table

    from peaceland.archive import archive_status
    from peaceland.config import resolve_endpoints
    from peaceland.storage import S3Store

    endpoints = resolve_endpoints(settings_from(data_dir=data_dir))
    store = S3Store.connect(endpoints, timeout=10.0)
    try:
        statuses = asyncio.run(
            archive_status(endpoints, store, durable=durable, key_prefix=key_prefix)
        )
    finally:
        store.close()
    if as_json:
        rows = [dataclasses.asdict(s) for s in statuses]
        click.echo(json.dumps(rows, indent=2, default=str))
        return

    def count(value: int | None) -> str:
        return "-" if value is None else f"{value:,}"

    table = Table(
        "stream",
        "pending",
        "in flight",
        "objects",
        "rows",
        "size",
        "last flush (UTC)",
        title=f"durable consumer {durable!r}"
        + (f", keys under {key_prefix}" if key_prefix else ""),
        box=None,
    )
    for s in statuses:
        extra = f" (+{s.unnamed_objects} objects)" if s.unnamed_objects else ""
        rows_text = count(s.rows) + extra
        table.add_row(
            s.stream,
            count(s.pending),
            count(s.in_flight),
            count(s.objects),
            rows_text,
            f"{s.bytes / 1e6:,.1f} MB",
            s.last_write.strftime("%Y-%m-%d %H:%M:%S") if s.last_write else "never",
        )
    Console().print(table)


@archive_group.command("compact")
@DATA_DIR_OPTION
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Only this UTC date, YYYY-MM-DD [every closed hour].",
)
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(ARCHIVE_KINDS),
    help="What to compact; repeat for several [all three].",
)
@click.option(
    "--dry-run", is_flag=True, help="Show what would be merged and deleted; change nothing."
)
@click.option("--key-prefix", default="", help="As given to `peaceland archiver` [none].")
@click.option(
    "--target-size",
    type=click.IntRange(min=1),
    default=None,
    help="Bytes per merged object [env PEACELAND_COMPACT_TARGET_BYTES; 128 MiB].",
)
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=None,
    help="An hour is closed this many s after its end [env PEACELAND_COMPACT_GRACE; 7200].",
)
@click.option(
    "--delete-after",
    type=click.FloatRange(min=0),
    default=None,
    help="Merged objects are deleted by a run at least this many s later, so queries "
    "reading them meanwhile still find them [env PEACELAND_COMPACT_DELETE_AFTER; 900].",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def archive_compact_command(
    data_dir: Path | None,
    day: Any,
    kinds: tuple[str, ...],
    dry_run: bool,
    key_prefix: str,
    target_size: int | None,
    grace: float | None,
    delete_after: float | None,
    as_json: bool,
) -> None:
    """Merge the small objects of closed hours into large ones, dropping duplicates.

    \b
    An hour (a day for dead letters) is closed once it ended more than --grace ago.
    Merged objects are written first; the objects they replace are deleted by a later
    run, --delete-after seconds on: a query running meanwhile never misses a report nor
    sees one twice. Run it periodically (cron, systemd timer), one at a time. Examples:
      peaceland archive compact --dry-run
      peaceland archive compact --date 2026-11-27 --kind reports
    """
    import asyncio
    import dataclasses
    import json

    from rich.console import Console

    from peaceland.archive import CompactionPolicy, CompactOptions, compact
    from peaceland.cli.compaction_view import progress_bar, results_json, results_table
    from peaceland.config import resolve_endpoints
    from peaceland.runtime import setup_logging
    from peaceland.storage import S3Store

    settings = settings_from(
        data_dir=data_dir,
        compact_target_bytes=target_size,
        compact_grace_s=grace,
        compact_delete_after_s=delete_after,
    )
    setup_logging("WARNING")
    options = CompactOptions(
        policy=CompactionPolicy(
            settings.compact_target_bytes,
            settings.compact_grace_s,
            settings.compact_delete_after_s,
        ),
        key_prefix=key_prefix,
        day=day.date() if day is not None else None,
        dry_run=dry_run,
    )
    # Compaction needs S3 alone: a placeholder NATS URL lets an S3-only setup resolve.
    s3_only = dataclasses.replace(settings, nats_url=settings.nats_url or "nats://unused")
    store = S3Store.connect(resolve_endpoints(s3_only))
    try:
        with progress_bar(not as_json) as bar:
            results = asyncio.run(
                compact(store, kinds or ARCHIVE_KINDS, options, progress=bar)  # type: ignore[arg-type]
            )
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps(results_json(results), indent=2))
        return
    Console().print(results_table(results))


# -- alerts for officers: tail, incidents, ack / resolve, webhooks -----------------------------


@cli.group("alerts")
def alerts_group() -> None:
    """Alerts for officers: follow them live, list incidents, acknowledge and resolve them."""


@alerts_group.command("tail")
@DATA_DIR_OPTION
@click.option(
    "--since", default=None, help="Replay from a time: RFC 3339 or an age (90s, 15m, 2h, 7d)."
)
@click.option("--drone", default=None, help="Only this drone's alerts.")
@click.option(
    "--severity",
    "severities",
    multiple=True,
    type=click.Choice(["critical", "major", "minor"]),
    help="Only these severities; repeat for several [all].",
)
@click.option("--count", type=click.IntRange(min=1), default=None, help="Stop after this many.")
@click.option("--json", "as_json", is_flag=True, help="Print the alerts as JSON, one per line.")
def alerts_tail_command(
    data_dir: Path | None,
    since: str | None,
    drone: str | None,
    severities: tuple[str, ...],
    count: int | None,
    as_json: bool,
) -> None:
    """Live alerts on the terminal, straight from NATS: new ones only unless --since.

    \b
    One line per alert: report time, severity, citizen (peacescore), drone, position, age.
    Examples:
      peaceland alerts tail
      peaceland alerts tail --since 1h --severity critical
      peaceland alerts tail --json --count 10 | jq .citizen
    """
    import asyncio
    from datetime import UTC, datetime

    from rich.console import Console

    from peaceland.cli.alerts_view import TailOptions, tail
    from peaceland.config import resolve_endpoints
    from peaceland.contract import valid_drone_id
    from peaceland.delivery import parse_since
    from peaceland.runtime import run_until_stopped

    try:
        start = parse_since(since, datetime.now(UTC)) if since is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    if drone is not None and not valid_drone_id(drone):
        raise click.BadParameter("1-64 chars of [A-Za-z0-9_-]", param_hint="--drone")
    options = TailOptions(
        since=start,
        drone=drone,
        severities=frozenset(severities) or None,  # type: ignore[arg-type]  # click.Choice
        count=count,
        as_json=as_json,
    )
    endpoints = resolve_endpoints(settings_from(data_dir=data_dir))
    console = Console(highlight=False, soft_wrap=True)  # one line per alert, also in pipes

    async def main(stop: asyncio.Event) -> None:
        await tail(endpoints.nats_url, options, console, stop, tls_ca=endpoints.nats_tls_ca)

    run_until_stopped(main)


@alerts_group.command("incidents")
@DATA_DIR_OPTION
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["open", "acknowledged", "resolved"]),
    help="Only these statuses; repeat for several [all].",
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def alerts_incidents_command(
    data_dir: Path | None, statuses: tuple[str, ...], limit: int, as_json: bool
) -> None:
    """Incidents (alerts grouped per citizen), most recently seen first.

    \b
    Examples:
      peaceland alerts incidents --status open
      peaceland alerts incidents --json --limit 500
    """
    import asyncio

    import msgspec
    from rich.console import Console

    from peaceland.cli.alerts_view import incident_table
    from peaceland.config import resolve_endpoints
    from peaceland.delivery import IncidentStore
    from peaceland.stream import connect

    endpoints = resolve_endpoints(settings_from(data_dir=data_dir))

    async def fetch() -> list[Any]:
        nc = await connect(endpoints.nats_url, "peaceland-alerts", tls_ca=endpoints.nats_tls_ca)
        try:
            store = await IncidentStore.open(nc.jetstream())
            return await store.incidents(statuses or None, limit)  # type: ignore[arg-type]
        finally:
            await nc.drain()

    incidents = asyncio.run(fetch())
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(incidents)).decode())
        return
    Console().print(incident_table(incidents))


def _incident_action(
    data_dir: Path | None, incident_id: str, action: str, by: str | None, note: str | None
) -> None:
    import asyncio
    import getpass

    import msgspec

    from peaceland.access import audit as audit_log
    from peaceland.config import resolve_endpoints
    from peaceland.delivery import IncidentStore, check_request
    from peaceland.stream import connect

    try:
        request = check_request(by or getpass.getuser(), note)
    except msgspec.ValidationError as exc:
        raise click.BadParameter(str(exc), param_hint="--by / --note") from None
    endpoints = resolve_endpoints(settings_from(data_dir=data_dir))

    async def act() -> Any:
        nc = await connect(endpoints.nats_url, "peaceland-alerts", tls_ca=endpoints.nats_tls_ca)
        try:
            js = nc.jetstream()
            store = await IncidentStore.open(js)
            done = await store.act(incident_id, action, request.by, request.note)  # type: ignore[arg-type]
            actor = audit_log.cli_actor()
            await audit_log.record(
                js, audit_log.entry(actor, "operator", f"incident.{action}", incident_id)
            )
            return done
        finally:
            await nc.drain()

    incident = asyncio.run(act())
    click.echo(
        f"incident {incident.incident_id} {incident.status} by {request.by}: "
        f"{incident.citizen}, {incident.count} alert(s), last seen "
        f"{incident.last_seen:%Y-%m-%d %H:%M:%S} UTC at {incident.lat:.5f}, {incident.lon:.5f}"
    )


_BY_OPTION = click.option("--by", default=None, help="Officer's name [the login name].")
_NOTE_OPTION = click.option("--note", default=None, help="A note for the other officers.")


@alerts_group.command("ack")
@DATA_DIR_OPTION
@click.argument("incident_id")
@_BY_OPTION
@_NOTE_OPTION
def alerts_ack_command(
    data_dir: Path | None, incident_id: str, by: str | None, note: str | None
) -> None:
    """Acknowledge an open incident: an officer is on it (further alerts still attach).

    \b
    Example:
      peaceland alerts ack 3f2a9c0b1d4e5f67-1 --by "Sgt. Javert" --note "en route"
    """
    _incident_action(data_dir, incident_id, "ack", by, note)


@alerts_group.command("resolve")
@DATA_DIR_OPTION
@click.argument("incident_id")
@_BY_OPTION
@_NOTE_OPTION
def alerts_resolve_command(
    data_dir: Path | None, incident_id: str, by: str | None, note: str | None
) -> None:
    """Resolve an open or acknowledged incident; the citizen's next alert opens a new one.

    \b
    Example:
      peaceland alerts resolve 3f2a9c0d1e4b5a6c-1 --by "Insp. Javert" --note "calm again"
    """
    _incident_action(data_dir, incident_id, "resolve", by, note)


@cli.command("webhooks")
@DATA_DIR_OPTION
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="Seconds to wait for an endpoint's answer.",
)
@click.option(
    "--max-backoff",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="Longest wait between two attempts, in s.",
)
def webhooks_command(data_dir: Path | None, timeout: float, max_backoff: float) -> None:
    """POST every new alert to each URL of PEACELAND_WEBHOOK_URLS, signed, at least once.

    \b
    Header Peaceland-Signature: sha256=<HMAC-SHA256 of the body, key PEACELAND_WEBHOOK_SECRET>;
    Peaceland-Alert-Id for receivers to drop duplicates. Failures and 5xx are retried with
    exponential backoff; a 4xx answer is recorded in DEADLETTER (peaceland.deadletter.webhook).
    Each endpoint has its own durable consumer: a dead one never delays the others.
    Example:
      PEACELAND_WEBHOOK_URLS=https://ops.example/hook PEACELAND_WEBHOOK_SECRET=s3cret \\
        peaceland webhooks
    """
    import asyncio

    from peaceland.delivery import WebhookOptions, run_webhooks
    from peaceland.runtime import run_until_stopped, setup_logging

    settings = settings_from(data_dir=data_dir)
    setup_logging(settings.log_level)
    options = WebhookOptions(timeout_s=timeout, backoff_max_s=max_backoff)

    async def main(stop: asyncio.Event) -> None:
        await run_webhooks(settings, stop, options)

    run_until_stopped(main)


# -- analytics: built-in statistics and SQL over the archive --------------------------------------

_FORMAT_OPTION = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output: a table, CSV with a header, or a JSON array of objects.",
)
_SINCE_OPTION = click.option(
    "--since",
    default=None,
    help="Only event times from T: RFC 3339, a UTC date, or an age (15m, 2h, 7d) [all].",
)
_UNTIL_OPTION = click.option(
    "--until", default=None, help="Only event times before T, same forms as --since [now]."
)
_KEY_PREFIX_OPTION = click.option(
    "--key-prefix", default="", help="As given to `peaceland archiver` [none]."
)


@cli.command("stats")
@click.argument("name", required=False)
@DATA_DIR_OPTION
@_SINCE_OPTION
@_UNTIL_OPTION
@_FORMAT_OPTION
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Also draw the result as a PNG chart (needs the `plots` extra).",
)
@_KEY_PREFIX_OPTION
def stats_command(
    name: str | None,
    data_dir: Path | None,
    since: str | None,
    until: str | None,
    fmt: str,
    plot_path: Path | None,
    key_prefix: str,
) -> None:
    """Built-in statistics over the archive; without NAME, the list.

    \b
    A sighting is agitated when its peacescore is below PEACELAND_ALERT_THRESHOLD (20).
    Times are event times (UTC); --since/--until read only the matching partitions.
    Examples:
      peaceland stats
      peaceland stats agitation_by_hour --since 7d
      peaceland stats agitation_by_cell --since 2026-11-01 --plot heat.png
      peaceland stats active_drones --format csv > drones.csv
    """
    from datetime import UTC, datetime

    from peaceland.analytics import (
        STATS,
        Result,
        TimeRange,
        archive_from,
        get_stat,
        run_stat,
        write_result,
    )

    if name is None:
        if fmt == "table":
            width = max(map(len, STATS))
            for stat in STATS.values():
                click.echo(f"{stat.name:<{width}}  {stat.description}")
        else:
            import pyarrow as pa

            listing = pa.Table.from_pylist(
                [
                    {"name": s.name, "description": s.description, "plot": s.plot.kind}
                    for s in STATS.values()
                ]
            )
            write_result(Result(listing), fmt, sys.stdout)  # type: ignore[arg-type]
        return
    stat = get_stat(name)
    time_range = TimeRange.parse(since, until, datetime.now(UTC))
    settings = settings_from(data_dir=data_dir)
    result = run_stat(
        archive_from(settings, key_prefix),
        stat.name,
        time_range,
        {"threshold": settings.alert_threshold},
    )
    title = f"{stat.name}: {time_range.describe()}, {len(result)} rows"
    write_result(result, fmt, sys.stdout, title=title)  # type: ignore[arg-type]
    if plot_path is not None:
        from peaceland.analytics import plot_result

        plot_result(stat, result, plot_path, subtitle=time_range.describe())
        click.echo(f"plot written to {plot_path}", err=True)


@cli.command("sql")
@click.argument("query")
@DATA_DIR_OPTION
@_FORMAT_OPTION
@_SINCE_OPTION
@_UNTIL_OPTION
@_KEY_PREFIX_OPTION
def sql_command(
    query: str,
    data_dir: Path | None,
    fmt: str,
    since: str | None,
    until: str | None,
    key_prefix: str,
) -> None:
    """Run SQL (DuckDB dialect) over the views reports, sightings and alerts.

    \b
    reports    report_id, drone_id, ts, lat, lon, citizens, words, extra, received_at
    sightings  report_id, drone_id, ts, lat, lon, citizen, peacescore, words
    alerts     alert_id, report_id, drone_id, ts, lat, lon, citizen, peacescore,
               severity, words, raised_at
    --since/--until scope the views to those event times and read only their partitions.
    Examples:
      peaceland sql "SELECT count(*) FROM reports"
      peaceland sql "SELECT citizen, min(peacescore) FROM sightings GROUP BY ALL" --since 1d
      peaceland sql "SELECT * FROM alerts ORDER BY ts DESC LIMIT 20" --format json
    """
    from datetime import UTC, datetime

    from peaceland.analytics import TimeRange, archive_from, connect, run_query, write_result

    time_range = TimeRange.parse(since, until, datetime.now(UTC))
    archive = archive_from(settings_from(data_dir=data_dir), key_prefix)
    con = connect(archive, since=time_range.since, until=time_range.until)
    try:
        result = run_query(con, query)
    finally:
        con.close()
    write_result(result, fmt, sys.stdout)  # type: ignore[arg-type]


def _add_access_commands() -> None:
    from peaceland.cli.access import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


_add_access_commands()
