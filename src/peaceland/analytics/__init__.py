"""Analytics over the Parquet archive: DuckDB views, built-in statistics, plots.

    from peaceland.analytics import connect
    con = connect()                      # settings from PEACELAND_* / peaceland.toml
    con.sql("SELECT drone_id, count(*) FROM reports GROUP BY ALL").df()

Modules: ``catalog`` (the connection: DuckDB, httpfs, S3, lock-down), ``views`` (the views'
SQL, from the archive's kind table), ``timerange`` (``--since/--until`` and
partition pruning, pure), ``stats`` (the registry of statistics), ``output`` (table, CSV,
JSON), ``plots`` (matplotlib, optional). ``docs/analytics.md`` has the full story.
Analytics reads S3 only: it never imports the stream.
"""

from __future__ import annotations

from peaceland.analytics.catalog import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_SPILL_LIMIT,
    Confinement,
    attach_archive,
    one_line,
    open_duckdb,
)
from peaceland.analytics.output import FORMATS, Format, to_json, write_result
from peaceland.analytics.plots import plot_result
from peaceland.analytics.stats import DEFAULT_PARAMS

from .catalog import Archive, archive_from, connect
from .stats import STATS, Result, Stat, get_stat, run_query, run_stat
from .timerange import TimeRange, parse_time

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "DEFAULT_PARAMS",
    "DEFAULT_SPILL_LIMIT",
    "FORMATS",
    "STATS",
    "Archive",
    "Confinement",
    "Format",
    "Result",
    "Stat",
    "TimeRange",
    "archive_from",
    "attach_archive",
    "connect",
    "get_stat",
    "one_line",
    "open_duckdb",
    "parse_time",
    "plot_result",
    "run_query",
    "run_stat",
    "to_json",
    "write_result",
]
