"""The views' SQL, built from the archive's kind table, on local DuckDB only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from peaceland.analytics import TimeRange
from peaceland.analytics.timerange import ScanPlan
from peaceland.analytics.views import (
    ALERT_COLUMNS,
    REPORT_COLUMNS,
    SIGHTING_COLUMNS,
    VIEWS,
    _dedup_sql,
    define_views,
)
from peaceland.archive import ALERTS_KIND, REPORTS_KIND
from peaceland.archive.batching import plan_objects


def test_dedup_sql_keeps_the_first_received_copy_per_dedup_key() -> None:
    plan = ScanPlan(("s3://b/reports/*/*/*.parquet",), None, "ts >= x")
    assert _dedup_sql(plan, REPORTS_KIND) == (
        f"SELECT {', '.join(REPORT_COLUMNS)} FROM read_parquet(['s3://b/reports/*/*/*.parquet'], "
        "hive_partitioning = true, hive_types = {'date': 'DATE', 'hour': 'INTEGER'}) "
        "WHERE ts >= x "
        "QUALIFY row_number() OVER (PARTITION BY report_id ORDER BY received_at, stream_seq) = 1"
    )
    assert "PARTITION BY alert_id ORDER BY" in _dedup_sql(plan, ALERTS_KIND)


def _columns(con: duckdb.DuckDBPyConnection, view: str) -> tuple[str, ...]:
    return tuple(row[0] for row in con.execute(f"DESCRIBE {view}").fetchall())


def test_an_empty_archive_gets_empty_views_of_the_contract_columns(tmp_path: Path) -> None:
    con = duckdb.connect()
    define_views(con, f"{tmp_path}/", TimeRange())
    assert _columns(con, "reports") == REPORT_COLUMNS
    assert _columns(con, "alerts") == ALERT_COLUMNS
    assert _columns(con, "sightings") == SIGHTING_COLUMNS
    assert all(con.execute(f"SELECT count(*) FROM {v}").fetchall() == [(0,)] for v in VIEWS)
    con.close()


def test_views_read_the_objects_and_drop_copies(tmp_path: Path) -> None:
    t0 = 1_795_000_000_000_000
    row: dict[str, Any] = {
        "report_id": "r1",
        "drone_id": "pw-1",
        "ts": t0,
        "lat": 1.0,
        "lon": 2.0,
        "citizens": [{"name": "Ada", "peacescore": 3}],
        "words": ["calme"],
        "extra": None,
        "received_at": t0,
        "stream_seq": 1,
    }
    copy = {**row, "received_at": t0 + 1, "stream_seq": 2}
    for rows in ([row], [copy]):
        table = pa.Table.from_pylist(rows, schema=REPORTS_KIND.schema)
        for planned in plan_objects(REPORTS_KIND, table, f"{tmp_path}/"):
            Path(planned.key).parent.mkdir(parents=True, exist_ok=True)
            Path(planned.key).write_bytes(REPORTS_KIND.to_parquet(planned.table))
    con = duckdb.connect()
    define_views(con, f"{tmp_path}/", TimeRange())
    assert con.execute("SELECT report_id, received_at = ts FROM reports").fetchall() == [
        ("r1", True)
    ]
    assert con.execute("SELECT citizen, peacescore FROM sightings").fetchall() == [("Ada", 3)]
    con.close()
