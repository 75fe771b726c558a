"""``peaceland stats`` and ``peaceland sql``: built-in statistics and SQL over the archive."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from peaceland.cli.options import DATA_DIR_OPTION, KEY_PREFIX_OPTION, OUTPUT_FORMATS, settings_from

if TYPE_CHECKING:
    from peaceland.analytics import Format


_FORMAT_OPTION = click.option(
    "--format",
    "fmt",
    type=click.Choice(OUTPUT_FORMATS),
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


@click.command("stats")
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
@KEY_PREFIX_OPTION
def stats_command(
    name: str | None,
    data_dir: Path | None,
    since: str | None,
    until: str | None,
    fmt: Format,
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
            write_result(Result(listing), fmt, sys.stdout)
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
    write_result(result, fmt, sys.stdout, title=title)
    if plot_path is not None:
        from peaceland.analytics import plot_result

        plot_result(stat, result, plot_path, subtitle=time_range.describe())
        click.echo(f"plot written to {plot_path}", err=True)


@click.command("sql")
@click.argument("query")
@DATA_DIR_OPTION
@_FORMAT_OPTION
@_SINCE_OPTION
@_UNTIL_OPTION
@KEY_PREFIX_OPTION
def sql_command(
    query: str,
    data_dir: Path | None,
    fmt: Format,
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
    write_result(result, fmt, sys.stdout)


COMMANDS = (stats_command, sql_command)
