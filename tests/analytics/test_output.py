"""Output formats, the stats registry and the catalog's pure helpers, on local DuckDB only."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from peaceland.analytics import (
    DEFAULT_PARAMS,
    STATS,
    Confinement,
    Result,
    get_stat,
    one_line,
    open_duckdb,
    write_result,
)
from peaceland.analytics.catalog import confine, httpfs_path, secret_sql
from peaceland.analytics.output import cell_text, to_csv
from peaceland.analytics.stats import stat_params
from peaceland.analytics.views import ALERT_COLUMNS, REPORT_COLUMNS, duckdb_type
from peaceland.archive import ALERTS_KIND, REPORTS_KIND
from peaceland.config import Endpoints, Secret
from peaceland.contract import ConfigError, UnknownStat

WHEN = datetime(2026, 11, 28, 10, 15, tzinfo=UTC)


def sample() -> Result:
    return Result(
        pa.table(
            {
                "day": [date(2026, 11, 28), None],
                "at": pa.array([WHEN, WHEN], pa.timestamp("us", tz="UTC")),
                "share": [0.123456, 1.0],
                "words": [["a", "é"], []],
                "name": ['O\'Brien, "x"', "[bold]no markup[/]"],
            }
        )
    )


def test_json_is_an_array_of_objects() -> None:
    out = io.StringIO()
    write_result(sample(), "json", out)
    assert json.loads(out.getvalue()) == [
        {
            "day": "2026-11-28",
            "at": "2026-11-28T10:15:00Z",
            "share": 0.123456,
            "words": ["a", "é"],
            "name": 'O\'Brien, "x"',
        },
        {
            "day": None,
            "at": "2026-11-28T10:15:00Z",
            "share": 1.0,
            "words": [],
            "name": "[bold]no markup[/]",
        },
    ]


def test_csv_has_a_header_and_quotes() -> None:
    rows = list(csv.reader(io.StringIO(to_csv(sample()))))
    assert rows == [
        ["day", "at", "share", "words", "name"],
        ["2026-11-28", "2026-11-28T10:15:00Z", "0.123456", '["a","é"]', 'O\'Brien, "x"'],
        ["", "2026-11-28T10:15:00Z", "1.0", "[]", "[bold]no markup[/]"],
    ]


def test_table_shows_title_rounded_floats_and_literal_text() -> None:
    out = io.StringIO()
    write_result(sample(), "table", out, title="sample: all time, 2 rows")
    lines = out.getvalue().splitlines()
    assert lines[0] == "sample: all time, 2 rows"
    assert lines[1].split() == ["day", "at", "share", "words", "name"]
    assert "2026-11-28 10:15:00Z" in lines[2]
    assert "0.1235" in lines[2]
    assert "[bold]no markup[/]" in lines[3]
    empty = io.StringIO()
    write_result(Result(pa.table({"n": pa.array([], pa.int64())})), "table", empty)
    assert empty.getvalue().splitlines()[-1] == "(no rows)"


def test_cell_text() -> None:
    assert cell_text(None) == ""
    assert cell_text(b"\x00\xff") == "00ff"
    assert cell_text({"a": 1}) == '{"a":1}'
    assert cell_text(datetime(2026, 1, 1, 12)) == "2026-01-01T12:00:00"
    assert cell_text(2.5, table=True) == "2.5000"


def test_registry() -> None:
    assert len(STATS) >= 10
    for stat in STATS.values():
        assert set(stat.params) <= set(DEFAULT_PARAMS), stat.name
        assert stat.description
        assert stat.plot.x
        assert stat.plot.y
        assert "$" not in stat.description
    assert stat_params(get_stat("agitation_by_cell"), {"threshold": 15}) == {
        "cell": 0.25,
        "threshold": 15,
    }
    with pytest.raises(UnknownStat, match="no statistic 'x'; known: agitation_by_hour"):
        get_stat("x")


def test_empty_views_have_the_types_duckdb_reads(tmp_path: Path) -> None:
    """``duckdb_type`` must name exactly what DuckDB reads from the archive's Parquet."""
    con = duckdb.connect()
    for fmt, columns in ((REPORTS_KIND, REPORT_COLUMNS), (ALERTS_KIND, ALERT_COLUMNS)):
        path = tmp_path / f"{fmt.name}.parquet"
        path.write_bytes(fmt.to_parquet(pa.Table.from_batches([], schema=fmt.schema)))
        read = {
            row[0]: row[1]
            for row in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()
        }
        for column in columns:
            mine = duckdb_type(fmt.schema.field(column).type)
            typed = con.execute(f"SELECT typeof(CAST(NULL AS {mine}))").fetchall()[0][0]
            assert typed == read[column], column
    con.close()


def test_secret_follows_the_endpoint() -> None:
    plain = Endpoints("nats://x", "http://127.0.0.1:8333", "peaceland", "AK", Secret("s'k"))
    sql = secret_sql(plain)
    assert "ENDPOINT '127.0.0.1:8333'" in sql
    assert "USE_SSL false" in sql
    assert "URL_STYLE 'path'" in sql
    assert "SECRET 's''k'" in sql
    tls = Endpoints("nats://x", "https://s3.example:443", "b", "", Secret(""))
    assert "USE_SSL true" in secret_sql(tls)
    assert "KEY_ID" not in secret_sql(tls)
    with pytest.raises(ConfigError, match="not an http"):
        secret_sql(Endpoints("nats://x", "s3.example", "b", "", Secret("")))


def test_httpfs_ships_for_this_duckdb() -> None:
    path = httpfs_path()
    assert path.is_file()
    assert f"v{duckdb.__version__}" in str(path)
    con = duckdb.connect(config={"autoinstall_known_extensions": "false"})
    con.execute(f"LOAD '{path}'")
    loaded = con.execute(
        "SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'httpfs'"
    ).fetchall()
    assert loaded == [(True,)]
    con.close()


@pytest.mark.parametrize(
    ("timeout_s", "http_timeout_s"),
    [(0.001, 1), (1.0, 1), (1.2, 2), (29.5, 30), (30.0, 30), (600.0, 30), (float("inf"), 30)],
)
def test_no_s3_request_outlasts_the_deadline(timeout_s: float, http_timeout_s: int) -> None:
    assert Confinement.within(timeout_s, "512MB") == Confinement("512MB", http_timeout_s)


def test_confinement_settings(tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    assert Confinement().settings(spill) == (
        "memory_limit = '1GB'",
        f"temp_directory = '{spill}'",
        "max_temp_directory_size = '10GB'",
        "http_timeout = 30",
    )
    no_spilling = ("memory_limit = '1GB'", "temp_directory = ''", "http_timeout = 30")
    assert Confinement(spill_limit=None).settings(spill) == no_spilling
    for seconds in (0, 31):
        with pytest.raises(ConfigError, match="http_timeout_s must be 1 to 30 s"):
            Confinement(http_timeout_s=seconds)


def test_confine_sets_duckdbs_options() -> None:
    con = open_duckdb()
    try:
        confine(con, Confinement("256MiB", 7, "2GB"))
        settings = "SELECT current_setting('memory_limit'), current_setting('temp_directory'), "
        row = con.execute(settings + "current_setting('http_timeout')").fetchone()
        assert row is not None
        memory, spill, http_timeout = row
        assert (memory, http_timeout) == ("256.0 MiB", 7)
        root = Path(spill).parent
        assert root.name.startswith("peaceland-duckdb-")
        assert root.stat().st_mode & 0o777 == 0o700  # spilled reports stay private
        assert not Path(spill).exists()  # made by DuckDB only when it spills
        with pytest.raises(ConfigError, match="cannot set memory_limit = 'lots'"):
            confine(con, Confinement("lots"))
    finally:
        con.close()


def test_one_line() -> None:
    con = duckdb.connect()
    with pytest.raises(duckdb.Error) as caught:
        con.execute("SELEC 1")
    assert "\n" in str(caught.value)
    assert one_line(caught.value) == 'Parser Error: syntax error at or near "SELEC"'
    con.close()


def test_decimal_sums_are_json_numbers() -> None:
    from decimal import Decimal

    from peaceland.analytics import to_json

    assert to_json({"agitated": Decimal("3"), "share": Decimal("0.25")}) == (
        b'{"agitated":3,"share":0.25}'
    )
