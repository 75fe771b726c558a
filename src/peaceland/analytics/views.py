"""The SQL of the contract's views over the archive's Parquet files.

    define_views(con, root, time_range)     ``reports``, ``sightings``, ``alerts`` on ``con``

One view per archived kind that has view columns (``archive.ARCHIVE_KINDS``: ``reports`` and
``alerts``), each deduplicated by the kind's dedup keys (the first received copy), plus
``sightings``, one row per (report, citizen) of ``reports``. A kind with no file in range
gets an empty view of the same columns and types.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Final

import duckdb
import pyarrow as pa

from peaceland.archive import ALERTS_KIND, ARCHIVE_KINDS, FIRST_RECEIVED, REPORTS_KIND, ArchiveKind

from .timerange import ScanPlan, TimeRange, folder, scan_plan

_HIVE: Final = "hive_partitioning = true, hive_types = {'date': 'DATE', 'hour': 'INTEGER'}"

REPORT_COLUMNS: Final = REPORTS_KIND.view_columns
ALERT_COLUMNS: Final = ALERTS_KIND.view_columns
SIGHTING_COLUMNS: Final = (
    "report_id",
    "drone_id",
    "ts",
    "lat",
    "lon",
    "citizen",
    "peacescore",
    "words",
)
VIEWS: Final = ("reports", "sightings", "alerts")

SIGHTINGS_SQL: Final = """
SELECT report_id, drone_id, ts, lat, lon,
       c.name AS citizen, c.peacescore AS peacescore, words
FROM (SELECT report_id, drone_id, ts, lat, lon, words, unnest(citizens) AS c FROM reports)
"""

#: The archived kinds that have a view, in the order the views are defined.
_VIEWED: Final[tuple[ArchiveKind, ...]] = tuple(k for k in ARCHIVE_KINDS.values() if k.view)


def define_views(con: duckdb.DuckDBPyConnection, root: str, time_range: TimeRange) -> None:
    """The views over the archive at ``root`` (``s3://bucket/[prefix]``), scoped to
    ``time_range``: only the folders holding files are read."""
    plans = {kind.name: scan_plan(root, kind.name, time_range) for kind in _VIEWED}
    patterns = [p for plan in plans.values() for p in plan.patterns]
    found = _folders_with_files(con, patterns)
    for kind in _VIEWED:
        live = _live(plans[kind.name], found)
        body = _dedup_sql(live, kind) if live else _empty_sql(kind.schema, kind.view_columns)
        con.execute(f"CREATE OR REPLACE VIEW {kind.view} AS {body}")
        if kind is REPORTS_KIND:
            con.execute(f"CREATE OR REPLACE VIEW sightings AS {SIGHTINGS_SQL}")


def _folders_with_files(con: duckdb.DuckDBPyConnection, patterns: Sequence[str]) -> set[str]:
    """The folders of ``patterns`` that hold at least one object (one listing each)."""
    files = con.execute("SELECT file FROM glob($patterns)", {"patterns": list(patterns)})
    names = [row[0] for row in files.fetchall()]
    return {folder(p) for p in patterns if any(n.startswith(folder(p)) for n in names)}


def _live(plan: ScanPlan, found: set[str]) -> ScanPlan | None:
    """The plan without its empty folders, or ``None`` when nothing is left."""
    patterns = tuple(p for p in plan.patterns if folder(p) in found)
    return dataclasses.replace(plan, patterns=patterns) if patterns else None


def _dedup_sql(plan: ScanPlan, kind: ArchiveKind) -> str:
    """The first received copy of each row of ``kind``, over the plan's files."""
    files = "[" + ", ".join(quote(p) for p in plan.patterns) + "]"
    return (
        f"SELECT {', '.join(kind.view_columns)} FROM read_parquet({files}, {_HIVE}) "
        f"WHERE {plan.where()} "
        f"QUALIFY row_number() OVER (PARTITION BY {', '.join(kind.dedup_keys)} "
        f"ORDER BY {', '.join(FIRST_RECEIVED)}) = 1"
    )


def _empty_sql(schema: pa.Schema, columns: Sequence[str]) -> str:
    typed = ", ".join(f"CAST(NULL AS {duckdb_type(schema.field(c).type)}) AS {c}" for c in columns)
    return f"SELECT {typed} WHERE false"


def duckdb_type(kind: pa.DataType) -> str:
    """The DuckDB type DuckDB reads an Arrow/Parquet column of type ``kind`` as."""
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "VARCHAR"
    if pa.types.is_timestamp(kind):
        return "TIMESTAMPTZ" if kind.tz is not None else "TIMESTAMP"
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return f"{duckdb_type(kind.value_type)}[]"
    if pa.types.is_struct(kind):
        fields = ", ".join(f'"{f.name}" {duckdb_type(f.type)}' for f in kind)
        return f"STRUCT({fields})"
    simple = {
        pa.float64(): "DOUBLE",
        pa.int32(): "INTEGER",
        pa.int64(): "BIGINT",
        pa.binary(): "BLOB",
    }
    if kind in simple:
        return simple[kind]
    raise TypeError(f"no DuckDB type for {kind}")


def quote(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
