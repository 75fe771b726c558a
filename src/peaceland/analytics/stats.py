"""The built-in statistics: each one small SQL query over the views, in one place.

    STATS                                    name -> Stat (description, SQL, plot)
    get_stat(name) -> Stat                   raises UnknownStat
    run_stat(archive, name, time_range)      connects with the range's partitions, runs it
    run_query(con, sql, params) -> Result    any SQL; DuckDB errors become QueryError

The CLI (``peaceland stats``), the HTTP API (``GET /api/v1/stats/<name>``) and the plots all
read this registry. A stat's SQL never repeats the time range: ``run_stat`` connects with the
views scoped to ``since <= ts < until`` (and to the matching partitions only). Parameters:
``$threshold`` (a sighting is *agitated* when its peacescore is below it: the alert threshold,
default 20), ``$cell`` (grid size in degrees), ``$min_support`` and ``$limit``.
Times are UTC: hours of day and days of week are UTC ones.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, Final, Literal

import duckdb
import pyarrow as pa

from peaceland.config import DEFAULT_ALERT_THRESHOLD
from peaceland.contract import QueryError, StoreError, UnknownStat

from .catalog import Archive, Confinement, connect, one_line
from .timerange import TimeRange

PlotKind = Literal["bar", "barh", "line", "heatmap"]

DEFAULT_PARAMS: Final[Mapping[str, float | int]] = {
    "threshold": DEFAULT_ALERT_THRESHOLD,
    "cell": 0.25,
    "min_support": 20,
    "limit": 25,
}
_PARAM_RE: Final = re.compile(r"\$([a-z_]+)")


@dataclasses.dataclass(frozen=True, slots=True)
class Plot:
    """How ``--plot`` draws a result: ``y`` (or, for a heat map, ``value``) against ``x``."""

    kind: PlotKind
    x: str
    y: str
    value: str | None = None
    title: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class Stat:
    name: str
    description: str
    sql: str
    plot: Plot

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_PARAM_RE.findall(self.sql)))


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    """Rows as an Arrow table: exact types (UTC datetimes, dates), to JSON/CSV/tables/plots."""

    table: pa.Table

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)

    def rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.table.to_pylist()
        return rows

    def __len__(self) -> int:
        return int(self.table.num_rows)


_AGITATION = """count(*) AS sightings,
       count(*) FILTER (WHERE peacescore < $threshold) AS agitated,
       count(*) FILTER (WHERE peacescore < $threshold) / count(*) AS agitated_share,
       avg(peacescore) AS mean_peacescore"""

_STATS: Final = (
    Stat(
        "agitation_by_hour",
        "Sightings, agitated sightings (peacescore < threshold), their share and the mean "
        "peacescore by hour of day (UTC)",
        f"SELECT hour(ts) AS hour, {_AGITATION} FROM sightings GROUP BY ALL ORDER BY hour",
        Plot("bar", "hour", "agitated_share", title="Share of agitated sightings by hour (UTC)"),
    ),
    Stat(
        "agitation_by_weekday",
        "Agitation by day of week (1 = Monday, UTC)",
        f"SELECT isodow(ts) AS weekday, dayname(ts) AS day, {_AGITATION} "
        "FROM sightings GROUP BY ALL ORDER BY weekday",
        Plot("bar", "day", "agitated_share", title="Share of agitated sightings by weekday"),
    ),
    Stat(
        "agitation_by_cell",
        "Agitation on a grid of 0.25-degree cells (south-west corner of each): a heat map",
        "SELECT floor(lat / $cell) * $cell AS lat_min, floor(lon / $cell) * $cell AS lon_min, "
        f"{_AGITATION} FROM sightings GROUP BY ALL ORDER BY lat_min, lon_min",
        Plot("heatmap", "lon_min", "lat_min", value="agitated", title="Agitated sightings"),
    ),
    Stat(
        "agitation_by_drone",
        "Per drone: reports, sightings, agitated sightings, share and mean peacescore; "
        "the most agitated first",
        "SELECT drone_id, count(*) AS reports, sum(len(citizens)) AS sightings, "
        "sum(len(list_filter(citizens, lambda c: c.peacescore < $threshold))) AS agitated, "
        "agitated / nullif(sightings, 0) AS agitated_share, "
        "sum(list_sum(list_transform(citizens, lambda c: c.peacescore))) "
        "/ nullif(sightings, 0) AS mean_peacescore "
        "FROM reports GROUP BY ALL ORDER BY agitated DESC, drone_id LIMIT $limit",
        Plot("barh", "drone_id", "agitated", title="Agitated sightings by drone"),
    ),
    Stat(
        "agitation_by_word",
        "Words heard most associated with low scores: share of the sightings of reports "
        "hearing the word that are agitated (words heard in at least 20 sightings)",
        "SELECT word, count(*) AS sightings, "
        "count(*) FILTER (WHERE peacescore < $threshold) AS agitated, "
        "count(*) FILTER (WHERE peacescore < $threshold) / count(*) AS agitated_share, "
        "avg(peacescore) AS mean_peacescore "
        "FROM (SELECT unnest(list_distinct(words)) AS word, peacescore FROM sightings) "
        "GROUP BY word HAVING count(*) >= $min_support "
        "ORDER BY agitated_share DESC, sightings DESC, word LIMIT $limit",
        Plot("barh", "word", "agitated_share", title="Share of agitated sightings by word heard"),
    ),
    Stat(
        "repeat_agitated_citizens",
        "Citizens seen agitated at least twice: how often, by how many drones, when",
        "SELECT citizen, count(*) AS agitated_sightings, count(DISTINCT drone_id) AS drones, "
        "min(peacescore) AS min_peacescore, min(ts) AS first_seen, max(ts) AS last_seen "
        "FROM sightings WHERE peacescore < $threshold GROUP BY citizen HAVING count(*) >= 2 "
        "ORDER BY agitated_sightings DESC, citizen LIMIT $limit",
        Plot("barh", "citizen", "agitated_sightings", title="Repeatedly agitated citizens"),
    ),
    Stat(
        "peacescore_over_time",
        "Mean peacescore per hour, with sightings and agitated sightings",
        "SELECT date_trunc('hour', ts) AS hour, count(*) AS sightings, "
        "count(*) FILTER (WHERE peacescore < $threshold) AS agitated, "
        "avg(peacescore) AS mean_peacescore FROM sightings GROUP BY ALL ORDER BY hour",
        Plot("line", "hour", "mean_peacescore", title="Mean peacescore per hour"),
    ),
    Stat(
        "reports_per_day",
        "Reports and alerts per day (UTC)",
        "WITH r AS (SELECT ts::DATE AS day, count(*) AS reports FROM reports GROUP BY ALL), "
        "a AS (SELECT ts::DATE AS day, count(*) AS alerts FROM alerts GROUP BY ALL) "
        "SELECT day, coalesce(reports, 0) AS reports, coalesce(alerts, 0) AS alerts "
        "FROM r FULL JOIN a USING (day) ORDER BY day",
        Plot("line", "day", "reports", title="Reports per day"),
    ),
    Stat(
        "alerting_share",
        "Per day: reports, reports with at least one citizen below the threshold, their share",
        "SELECT ts::DATE AS day, count(*) AS reports, "
        "count(*) FILTER (WHERE len(list_filter(citizens, lambda c: c.peacescore < $threshold))"
        " > 0) AS alerting_reports, alerting_reports / count(*) AS alerting_share "
        "FROM reports GROUP BY ALL ORDER BY day",
        Plot("line", "day", "alerting_share", title="Share of alerting reports per day"),
    ),
    Stat(
        "active_drones",
        "The most active drones: reports, first and last report, hours active",
        "SELECT drone_id, count(*) AS reports, min(ts) AS first_report, max(ts) AS last_report, "
        "count(DISTINCT date_trunc('hour', ts)) AS active_hours "
        "FROM reports GROUP BY ALL ORDER BY reports DESC, drone_id LIMIT $limit",
        Plot("barh", "drone_id", "reports", title="Most active drones"),
    ),
    Stat(
        "alerts_by_severity",
        "Alerts by severity, with the citizens and drones involved",
        "SELECT severity, count(*) AS alerts, count(DISTINCT citizen) AS citizens, "
        "count(DISTINCT drone_id) AS drones FROM alerts GROUP BY severity "
        "ORDER BY list_position(['critical', 'major', 'minor'], severity), severity",
        Plot("bar", "severity", "alerts", title="Alerts by severity"),
    ),
)
STATS: Final[Mapping[str, Stat]] = {s.name: s for s in _STATS}


def get_stat(name: str) -> Stat:
    try:
        return STATS[name]
    except KeyError:
        raise UnknownStat(name, list(STATS)) from None


def stat_params(stat: Stat, overrides: Mapping[str, float | int] | None = None) -> dict[str, Any]:
    values = {**DEFAULT_PARAMS, **(overrides or {})}
    return {name: values[name] for name in stat.params}


def run_query(
    con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, Any] | None = None
) -> Result:
    """Run ``sql``; a failure is a ``QueryError`` with DuckDB's message on one line, or a
    ``StoreError`` when S3 failed."""
    try:
        cursor = con.execute(sql, dict(params) if params else None)
        if cursor.description is None:  # a statement without a result (SET, CREATE, ...)
            return Result(pa.table({}))
        return Result(cursor.to_arrow_table())
    except duckdb.Error as exc:
        if isinstance(exc, duckdb.HTTPException) or (
            isinstance(exc, duckdb.IOException) and "HTTP" in str(exc)
        ):
            raise StoreError(f"cannot read the archive: {one_line(exc)}") from None
        raise QueryError(one_line(exc)) from None


def run_stat(
    archive: Archive,
    name: str,
    time_range: TimeRange | None = None,
    params: Mapping[str, float | int] | None = None,
    *,
    locked: bool | Confinement = False,
) -> Result:
    """Statistic ``name`` over ``time_range`` (default: all time); ``params`` override the
    defaults (e.g. ``{"threshold": 15}``); ``locked``: on a locked-down connection
    (``catalog.lock_down``), as the HTTP API runs them: ``True`` with the default
    ``catalog.Confinement`` (1 GB of memory, then up to 10 GB spilled to disk), or a given one."""
    stat = get_stat(name)
    time_range = time_range or TimeRange()
    con = connect(archive, since=time_range.since, until=time_range.until, locked=locked)
    try:
        return run_query(con, stat.sql, stat_params(stat, params))
    finally:
        con.close()
