"""Components, each a long-running process: gateway, dashboard, alerter, archiver, compactor,
webhooks; and the drone simulator."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from peaceland.cli.options import ARCHIVE_KINDS, DATA_DIR_OPTION, settings_from
from peaceland.contract import ALERTER_DURABLE, ARCHIVER_DURABLE

if TYPE_CHECKING:
    from peaceland.archive import Kind

HOST_OPTION = click.option(
    "--host", default=None, help="Interface to listen on [env PEACELAND_HTTP_HOST]."
)
PORT_OPTION = click.option(
    "--port", type=int, default=None, help="Port [env PEACELAND_HTTP_PORT; 8080]."
)


def _serve_web(name: str, data_dir: Path | None, host: str | None, port: int | None) -> None:
    """The gateway and the dashboard are one application; where it runs is the difference."""
    from peaceland.runtime import Component, run_component
    from peaceland.web import run_web

    settings = settings_from(data_dir=data_dir, http_host=host, http_port=port)
    run_component(Component(name, lambda stop: run_web(settings, stop)), settings)


@click.command()
@DATA_DIR_OPTION
@HOST_OPTION
@PORT_OPTION
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
    _serve_web("gateway", data_dir, host, port)


@click.command("dashboard")
@DATA_DIR_OPTION
@HOST_OPTION
@PORT_OPTION
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
    _serve_web("dashboard", data_dir, host, port)


@click.command("alerter")
@DATA_DIR_OPTION
@click.option(
    "--durable",
    default=ALERTER_DURABLE,
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

    from peaceland.alerting import AlerterOptions, run_alerter
    from peaceland.runtime import Component, run_component

    settings = settings_from(data_dir=data_dir)
    options = AlerterOptions(
        durable=durable, filter_subject=filter_subject, batch=batch, fast_path=fast_path
    )

    run_component(Component("alerter", lambda stop: run_alerter(settings, stop, options)), settings)


@click.command()
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


@click.command("archiver")
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
    default=ARCHIVER_DURABLE,
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
    kinds: tuple[Kind, ...],
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

    from peaceland.archive import ArchiverOptions, FlushPolicy, PipelineOptions, run_archiver
    from peaceland.runtime import Component, run_component

    settings = settings_from(
        data_dir=data_dir,
        archive_max_rows=max_rows,
        archive_max_bytes=max_bytes,
        archive_max_age_s=max_age,
    )
    policy = FlushPolicy(
        settings.archive_max_rows, settings.archive_max_bytes, settings.archive_max_age_s
    )
    options = ArchiverOptions(
        kinds=kinds or ARCHIVE_KINDS,
        durable=durable,
        filter_subject=filter_subject,
        pipeline=PipelineOptions(policy=policy, key_prefix=key_prefix, ack_wait_s=ack_wait),
    )

    run_component(
        Component("archiver", lambda stop: run_archiver(settings, stop, options)), settings
    )


@click.command("compactor")
@DATA_DIR_OPTION
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Seconds between two passes [env PEACELAND_COMPACT_INTERVAL; 60].",
)
@click.option("--key-prefix", default="", help="Compact the archive under this key prefix.")
def compactor_command(data_dir: Path | None, interval: float | None, key_prefix: str) -> None:
    """Compact the archive's closed hours every interval, as long as it runs.

    \b
    An hour is closed PEACELAND_COMPACT_GRACE seconds after its end (600); late reports still
    land and are merged by a later pass. Run one per node: they share a lease (LEASES bucket),
    one compacts, the others take over if it stops. `peaceland run` starts one.
    Example:
      peaceland compactor --interval 30
    """

    from peaceland.archive import CompactorOptions, run_compactor
    from peaceland.runtime import Component, run_component

    settings = settings_from(data_dir=data_dir, compact_interval_s=interval)
    options = CompactorOptions(key_prefix=key_prefix)

    run_component(
        Component("compactor", lambda stop: run_compactor(settings, stop, options)), settings
    )


@click.command("webhooks")
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

    from peaceland.delivery import WebhookOptions, run_webhooks
    from peaceland.runtime import Component, run_component

    settings = settings_from(data_dir=data_dir)
    options = WebhookOptions(timeout_s=timeout, backoff_max_s=max_backoff)

    run_component(
        Component("webhooks", lambda stop: run_webhooks(settings, stop, options)), settings
    )


COMMANDS = (
    gateway,
    dashboard_command,
    alerter_command,
    simulate,
    archiver_command,
    compactor_command,
    webhooks_command,
)
