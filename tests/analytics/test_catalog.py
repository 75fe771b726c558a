"""The DuckDB views over a real SeaweedFS S3: contract columns and types, dedup, partition
pruning, an empty archive, and errors."""

from __future__ import annotations

import asyncio
import os
import re
from datetime import timedelta
from typing import Any

import duckdb
import pytest

from analytics_data import HOURS, Known, write_known
from peaceland.analytics import STATS, TimeRange, archive_from, connect, run_query, run_stat
from peaceland.config import Endpoints, Secret
from peaceland.contract import QueryError, StoreError
from peaceland.servers import services

pytestmark = pytest.mark.slow

CONTRACT = {
    "reports": [
        ("report_id", "VARCHAR"),
        ("drone_id", "VARCHAR"),
        ("ts", "TIMESTAMP WITH TIME ZONE"),
        ("lat", "DOUBLE"),
        ("lon", "DOUBLE"),
        ("citizens", 'STRUCT("name" VARCHAR, peacescore INTEGER)[]'),
        ("words", "VARCHAR[]"),
        ("extra", "VARCHAR"),
        ("received_at", "TIMESTAMP WITH TIME ZONE"),
    ],
    "sightings": [
        ("report_id", "VARCHAR"),
        ("drone_id", "VARCHAR"),
        ("ts", "TIMESTAMP WITH TIME ZONE"),
        ("lat", "DOUBLE"),
        ("lon", "DOUBLE"),
        ("citizen", "VARCHAR"),
        ("peacescore", "INTEGER"),
        ("words", "VARCHAR[]"),
    ],
    "alerts": [
        ("alert_id", "VARCHAR"),
        ("report_id", "VARCHAR"),
        ("drone_id", "VARCHAR"),
        ("ts", "TIMESTAMP WITH TIME ZONE"),
        ("lat", "DOUBLE"),
        ("lon", "DOUBLE"),
        ("citizen", "VARCHAR"),
        ("peacescore", "INTEGER"),
        ("severity", "VARCHAR"),
        ("words", "VARCHAR[]"),
        ("raised_at", "TIMESTAMP WITH TIME ZONE"),
    ],
}


@pytest.fixture(scope="module")
def known(stack: Any) -> Known:
    return asyncio.run(write_known(stack.endpoints, seed=11))


def columns(con: duckdb.DuckDBPyConnection, view: str) -> list[tuple[str, str]]:
    return [(row[0], row[1]) for row in con.execute(f"DESCRIBE {view}").fetchall()]


@pytest.mark.parametrize("empty", [False, True], ids=["archive", "empty"])
def test_views_have_the_contract_columns_and_types(stack: Any, known: Known, empty: bool) -> None:
    con = connect(stack.endpoints, key_prefix="nothing-here/" if empty else known.prefix)
    try:
        for view, wanted in CONTRACT.items():
            assert columns(con, view) == wanted, view
    finally:
        con.close()


def test_reports_hold_each_report_once_as_first_received(stack: Any, known: Known) -> None:
    con = connect(stack.endpoints, key_prefix=known.prefix)
    try:
        rows = run_query(con, "SELECT * FROM reports ORDER BY report_id").rows()
        alerts = run_query(con, "SELECT * FROM alerts ORDER BY alert_id").rows()
        sightings = run_query(con, "SELECT count(*) AS n FROM sightings").rows()
    finally:
        con.close()
    want = sorted(known.reports, key=lambda r: r["report_id"])
    assert rows == [{k: v for k, v in r.items() if k != "stream_seq"} for r in want]
    # The later copies said {"copy":2} in extra: the view keeps the first received.
    assert not any(r["extra"] == '{"copy":2}' for r in rows)
    assert set(known.duplicated) <= {r["report_id"] for r in rows}
    drop = {"received_at", "stream_seq"}
    assert alerts == [
        {k: v for k, v in a.items() if k not in drop}
        for a in sorted(known.alerts, key=lambda a: a["alert_id"])
    ]
    assert sightings == [{"n": len(known.sightings())}]


def test_the_same_report_in_two_objects_is_one_row(stack: Any, known: Known) -> None:
    """The raw files hold the duplicates; the view does not."""
    con = connect(stack.endpoints, key_prefix=known.prefix)
    try:
        root = archive_from(stack.endpoints, known.prefix).root
        raw = con.execute(
            f"SELECT count(*) FROM read_parquet('{root}reports/*/*/*.parquet') "
            "WHERE report_id = $id",
            {"id": known.duplicated[0]},
        ).fetchall()
        viewed = con.execute(
            "SELECT count(*) FROM reports WHERE report_id = $id", {"id": known.duplicated[0]}
        ).fetchall()
    finally:
        con.close()
    assert raw == [(2,)]
    assert viewed == [(1,)]


def files_read(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    """How many Parquet files DuckDB opened for ``sql``, from EXPLAIN ANALYZE."""
    plan = "\n".join(row[1] for row in con.execute("EXPLAIN ANALYZE " + sql).fetchall())
    counts = [int(n) for n in re.findall(r"Total Files Read: (\d+)", plan)]
    assert counts, plan
    return sum(counts)


def objects_in(known: Known, hours: list[int]) -> int:
    folders = [f"date={HOURS[i]:%Y-%m-%d}/hour={HOURS[i]:%H}/" for i in hours]
    return sum(1 for key in known.keys["reports"] if any(f in key for f in folders))


@pytest.mark.parametrize(
    ("since", "until", "hours"),
    [
        # One hour: one glob per hour folder.
        (HOURS[4] + timedelta(minutes=5), HOURS[4] + timedelta(minutes=50), [4]),
        # Across midnight, two partial hours.
        (HOURS[2] + timedelta(minutes=30), HOURS[3] + timedelta(minutes=30), [2, 3]),
        # Three days (more than 48 hours): one glob per day, the date/hour filter prunes.
        (
            HOURS[1] + timedelta(minutes=1),
            HOURS[8] + timedelta(minutes=1),
            [1, 2, 3, 4, 5, 6, 7, 8],
        ),
        # Open-ended: the whole kind listed, the date/hour filter prunes.
        (HOURS[7] + timedelta(minutes=1), None, [7, 8, 9]),
    ],
    ids=["hour", "midnight", "days", "open"],
)
def test_time_range_reads_only_its_partitions(
    stack: Any, known: Known, since: Any, until: Any, hours: list[int]
) -> None:
    con = connect(stack.endpoints, key_prefix=known.prefix, since=since, until=until)
    everything = connect(stack.endpoints, key_prefix=known.prefix)
    try:
        assert files_read(con, "SELECT count(*) FROM reports") == objects_in(known, hours)
        assert files_read(everything, "SELECT count(*) FROM reports") == len(known.keys["reports"])
        count = con.execute("SELECT count(*) FROM reports").fetchall()[0][0]
    finally:
        con.close()
        everything.close()
    assert count == sum(
        1 for r in known.reports if r["ts"] >= since and (until is None or r["ts"] < until)
    )


def test_an_empty_archive_gives_empty_results(stack: Any) -> None:
    archive = archive_from(stack.endpoints, "never-written/")
    for name in STATS:
        assert len(run_stat(archive, name)) == 0, name
        assert len(run_stat(archive, name, TimeRange(since=HOURS[0]))) == 0, name
    con = connect(archive)
    try:
        assert con.execute("SELECT count(*) FROM sightings").fetchall() == [(0,)]
    finally:
        con.close()


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC 1", "Parser Error: syntax error at or near"),
        ("SELECT nope FROM reports", "Binder Error: Referenced column"),
        ("SELECT * FROM reportz", "Catalog Error: Table with name reportz does not exist"),
        ("SELECT 1 / 'a'", "Conversion Error"),
    ],
)
def test_sql_errors_are_one_line(stack: Any, known: Known, sql: str, message: str) -> None:
    con = connect(stack.endpoints, key_prefix=known.prefix)
    try:
        with pytest.raises(QueryError) as caught:
            run_query(con, sql)
    finally:
        con.close()
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_an_unreachable_store_is_a_store_error() -> None:
    endpoints = Endpoints("nats://unused", "http://127.0.0.1:9", "peaceland", "k", Secret("s"))
    with pytest.raises(StoreError, match=r"cannot read the archive s3://peaceland/"):
        connect(endpoints)


def test_connect_reads_the_settings_like_the_cli(
    stack: Any, known: Known, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [n for n in os.environ if n.startswith("PEACELAND_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("PEACELAND_DATA_DIR", str(stack.data_dir))
    monkeypatch.chdir(stack.data_dir)
    con = connect(key_prefix=known.prefix)
    try:
        table = con.sql("SELECT drone_id, count(*) AS n FROM reports GROUP BY ALL").to_arrow_table()
        first = con.sql("SELECT ts FROM reports ORDER BY ts LIMIT 1").fetchall()
    finally:
        con.close()
    assert sum(table.column("n").to_pylist()) == len(known.reports)
    assert first == [(min(r["ts"] for r in known.reports),)]


def test_views_work_inside_correlated_subqueries(stack: Any, known: Known) -> None:
    con = connect(stack.endpoints, key_prefix=known.prefix)
    try:
        got = run_query(
            con,
            "SELECT count(*) AS n FROM reports r "
            "WHERE EXISTS (SELECT 1 FROM alerts a WHERE a.report_id = r.report_id)",
        ).rows()
    finally:
        con.close()
    assert got == [{"n": len({a["report_id"] for a in known.alerts})}]


def test_a_store_lost_after_connect_is_a_store_error(fresh_stack: Any) -> None:
    written = asyncio.run(write_known(fresh_stack.endpoints))
    con = connect(fresh_stack.endpoints, key_prefix=written.prefix)
    try:
        services.kill_service(fresh_stack.settings, "weed")
        with pytest.raises(StoreError, match="cannot read the archive: IO Error"):
            run_query(con, "SELECT count(*) FROM reports")
    finally:
        con.close()
