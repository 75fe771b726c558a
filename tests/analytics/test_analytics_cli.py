"""``peaceland stats`` / ``peaceland sql`` as processes, ``GET /api/v1/stats/<name>`` over HTTP,
and the plots, on a known archive in a real SeaweedFS S3."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from analytics_data import HOURS, Known, write_known
from peaceland.analytics import (
    STATS,
    TimeRange,
    archive_from,
    get_stat,
    plot_result,
    run_stat,
    to_json,
)
from peaceland.web.stats_api import add_stats_routes

pytestmark = pytest.mark.slow

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SINCE = "2026-11-28T00:00:00Z"
UNTIL = "2026-11-29"


@pytest.fixture(scope="module")
def known(stack: Any) -> Known:
    return asyncio.run(write_known(stack.endpoints, seed=23))


def json_rows(rows: list[dict[str, Any]]) -> Any:
    """Rows as the JSON outputs carry them."""
    return json.loads(to_json(rows))


def test_stats_without_name_lists_them(stack: Any) -> None:
    done = stack.cli("stats")
    assert done.returncode == 0, done.stderr
    listed = [line.split()[0] for line in done.stdout.splitlines()]
    assert listed == list(STATS)
    as_json = json.loads(stack.cli("stats", "--format", "json").stdout)
    assert [s["name"] for s in as_json] == list(STATS)


def test_stats_json_csv_and_table(stack: Any, known: Known) -> None:
    args = ["stats", "agitation_by_hour", "--key-prefix", known.prefix, "--since", SINCE]
    args += ["--until", UNTIL]
    rows = run_stat(
        archive_from(stack.endpoints, known.prefix),
        "agitation_by_hour",
        TimeRange.parse(SINCE, UNTIL, HOURS[0]),
    ).rows()
    assert rows

    as_json = stack.cli(*args, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == json_rows(rows)

    as_csv = stack.cli(*args, "--format", "csv")
    table = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert list(table[0]) == list(rows[0])
    assert [int(r["hour"]) for r in table] == [r["hour"] for r in rows]
    assert [float(r["agitated_share"]) for r in table] == [r["agitated_share"] for r in rows]

    as_table = stack.cli(*args)
    lines = as_table.stdout.splitlines()
    assert lines[0] == (
        f"agitation_by_hour: 2026-11-28T00:00:00Z to 2026-11-29T00:00:00Z, {len(rows)} rows"
    )
    assert lines[1].split() == list(rows[0])
    assert len(lines) == 2 + len(rows)


def test_stats_plot_writes_a_png(stack: Any, known: Known, tmp_path: Path) -> None:
    out = tmp_path / "heat.png"
    done = stack.cli("stats", "agitation_by_cell", "--key-prefix", known.prefix, "--plot", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(PNG_MAGIC)
    assert out.stat().st_size > 5_000


@pytest.mark.parametrize("name", sorted(STATS))
def test_every_stat_plots_to_a_png(stack: Any, known: Known, tmp_path: Path, name: str) -> None:
    archive = archive_from(stack.endpoints, known.prefix)
    for label, time_range in (("data", TimeRange()), ("empty", TimeRange(until=HOURS[0]))):
        path = plot_result(
            get_stat(name), run_stat(archive, name, time_range), tmp_path / f"{label}.png"
        )
        assert path.read_bytes().startswith(PNG_MAGIC), label
        assert path.stat().st_size > 5_000, label


def test_sql_formats(stack: Any, known: Known) -> None:
    query = "SELECT drone_id, count(*) AS n FROM reports GROUP BY ALL ORDER BY drone_id"
    done = stack.cli("sql", query, "--key-prefix", known.prefix, "--format", "json")
    assert done.returncode == 0, done.stderr
    counts: dict[str, int] = {}
    for r in known.reports:
        counts[r["drone_id"]] = counts.get(r["drone_id"], 0) + 1
    assert json.loads(done.stdout) == [{"drone_id": d, "n": n} for d, n in sorted(counts.items())]
    as_csv = stack.cli("sql", query, "--key-prefix", known.prefix, "--format", "csv")
    assert as_csv.stdout.splitlines()[0] == "drone_id,n"
    scoped = stack.cli(
        "sql",
        "SELECT count(*) AS n FROM sightings",
        "--key-prefix",
        known.prefix,
        "--since",
        SINCE,
        "--until",
        UNTIL,
        "--format",
        "csv",
    )
    since, until = datetime(2026, 11, 28, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC)
    want = sum(len(r["citizens"]) for r in known.reports if since <= r["ts"] < until)
    assert scoped.stdout.splitlines() == ["n", str(want)]


def test_sql_on_an_empty_archive_is_an_empty_result(stack: Any) -> None:
    done = stack.cli("sql", "SELECT * FROM alerts", "--key-prefix", "void/", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sql", "SELEC 1"], 'error: Parser Error: syntax error at or near "SELEC"'),
        (["sql", "SELECT * FROM nowhere"], "error: Catalog Error: Table with name nowhere"),
        (["stats", "nope"], "error: no statistic 'nope'; known: agitation_by_hour"),
        (["stats", "active_drones", "--since", "soon"], "error: since 'soon' is neither RFC 3339"),
        (["sql", "SELECT 1", "--until", "12:00"], "error: until '12:00' is neither RFC 3339"),
        (
            ["stats", "active_drones", "--since", "1h", "--until", "2h"],
            "error: until (",
        ),
    ],
    ids=["syntax", "table", "stat", "since", "until", "reversed"],
)
def test_bad_input_is_one_line_and_fails(stack: Any, args: list[str], message: str) -> None:
    done = stack.cli(*args)
    assert done.returncode != 0
    assert done.stderr.startswith(message), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stdout == ""


# -- HTTP -----------------------------------------------------------------------------------------


async def serve_stats(archive: Any) -> tuple[TestServer, ClientSession]:
    app = web.Application()
    add_stats_routes(app, archive)
    server = TestServer(app)
    await server.start_server()
    return server, ClientSession(str(server.make_url("")))


async def test_http_stats(stack: Any, known: Known) -> None:
    archive = archive_from(stack.endpoints, known.prefix)
    server, http = await serve_stats(archive)
    try:
        async with http.get("/api/v1/stats") as resp:
            assert resp.status == 200
            assert [s["name"] for s in (await resp.json())["stats"]] == list(STATS)
        query = {"since": SINCE, "until": UNTIL}
        async with http.get("/api/v1/stats/agitation_by_weekday", params=query) as resp:
            assert resp.status == 200
            body = await resp.json()
        want = run_stat(archive, "agitation_by_weekday", TimeRange.parse(SINCE, UNTIL, HOURS[0]))
        assert body["rows"] == json_rows(want.rows())
        assert body["columns"] == want.columns
        assert body["count"] == len(want) > 0
        assert (body["since"], body["until"]) == ("2026-11-28T00:00:00Z", "2026-11-29T00:00:00Z")
        async with http.get("/api/v1/stats/reports_per_day") as resp:
            assert resp.status == 200
            assert (await resp.json())["count"] == 3
        for path, status, message in [
            ("/api/v1/stats/nope", 404, "no statistic 'nope'"),
            ("/api/v1/stats/active_drones?since=later", 400, "since 'later' is neither RFC 3339"),
            ("/api/v1/stats/active_drones?until=2026-13-01", 400, "until '2026-13-01'"),
            ("/api/v1/stats/active_drones?limit=3", 400, "unknown parameter 'limit'"),
        ]:
            async with http.get(path) as resp:
                assert resp.status == status, path
                assert (await resp.json())["error"].startswith(message), path
    finally:
        await http.close()
        await server.close()


async def test_http_stats_without_an_archive_answer_503() -> None:
    server, http = await serve_stats(None)
    try:
        async with http.get("/api/v1/stats/active_drones") as resp:
            assert resp.status == 503
    finally:
        await http.close()
        await server.close()
