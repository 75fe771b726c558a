"""``POST /api/v1/sql`` on the full app, over a known archive on a real SeaweedFS: the views
answer, rows are capped, slow queries stopped, memory limited, a hung S3 given up on in
bounded time, and nothing outside the archive is reachable."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

import pytest
from aiohttp import web
from http_controls_helpers import Client, served

from analytics_data import HOURS, Known
from analytics_fixtures import archive_fixture, known_fixture  # noqa: F401
from peaceland.analytics import Archive, TimeRange
from peaceland.config import Endpoints, Secret
from peaceland.contract import QueryError, StoreError
from peaceland.web.app import WebOptions
from peaceland.web.sql_api import LIMITS_KEY, QueryTimedOut, SqlLimits, run_sql

pytestmark = pytest.mark.slow

#: Runs for hours unless stopped.
ENDLESS: Final = "SELECT sum(hash(i)) FROM range(1000000000000) t(i)"
#: Needs far more than 64 MB (20 million distinct strings in one hash table); fails in < 1 s.
OVER_64MB: Final = "SELECT count(DISTINCT i::VARCHAR) FROM range(20000000) t(i)"


def options(archive: Archive | None) -> WebOptions:
    return WebOptions(incident_builder=None, archive=archive)


@pytest.fixture
async def api(stack: Any, archive: Archive) -> AsyncIterator[Client]:
    async with served(stack, options(archive)) as client:
        yield client


async def sql(client: Client, query: str, **fields: Any) -> tuple[int, Any]:
    status, body, _ = await client.call("POST", "/api/v1/sql", {"sql": query, **fields})
    return status, body


async def test_views_answer(api: Client, known: Known) -> None:
    status, body = await sql(
        api,
        "SELECT (SELECT count(*) FROM reports) AS reports, "
        "(SELECT count(*) FROM sightings) AS sightings, (SELECT count(*) FROM alerts) AS alerts",
    )
    assert status == 200, body
    assert body == {
        "columns": ["reports", "sightings", "alerts"],
        "rows": [
            {
                "reports": len(known.reports),
                "sightings": len(known.sightings()),
                "alerts": len(known.alerts),
            }
        ],
        "count": 1,
        "truncated": False,
    }


async def test_rows_are_json_objects_with_times_in_utc(api: Client, known: Known) -> None:
    first = min(known.reports, key=lambda r: (r["ts"], r["report_id"]))
    status, body = await sql(
        api, "SELECT report_id, ts, citizens FROM reports ORDER BY ts, report_id LIMIT 1"
    )
    assert status == 200, body
    assert body["rows"] == [
        {
            "report_id": first["report_id"],
            "ts": first["ts"].isoformat().replace("+00:00", "Z"),
            "citizens": first["citizens"],
        }
    ]
    status, body = await sql(api, "SELECT 1 AS a, 2 AS a")
    assert (status, body["columns"], body["rows"]) == (200, ["a", "a_2"], [{"a": 1, "a_2": 2}])


async def test_since_and_until_scope_the_views(api: Client, known: Known) -> None:
    since, until = HOURS[3], HOURS[6]
    status, body = await sql(
        api,
        "SELECT count(*) AS n FROM reports",
        since=since.isoformat(),
        until=until.isoformat(),
    )
    assert status == 200, body
    assert body["rows"] == [{"n": sum(1 for r in known.reports if since <= r["ts"] < until)}]
    status, body = await sql(api, "SELECT 1", since="yesterday-ish")
    assert status == 400


async def test_explain_describe_and_summarize_are_queries(api: Client) -> None:
    for query in ("EXPLAIN SELECT count(*) FROM alerts", "DESCRIBE sightings", "SUMMARIZE alerts"):
        status, body = await sql(api, query)
        assert status == 200, (query, body)
        assert body["count"] > 0


async def test_rows_are_capped_and_truncation_said(stack: Any, archive: Archive) -> None:
    def cap(app: web.Application) -> None:
        app[LIMITS_KEY] = SqlLimits(max_rows=5)

    async with served(stack, options(archive), cap) as client:
        status, body = await sql(client, "SELECT report_id FROM reports ORDER BY report_id")
        assert (status, body["count"], body["truncated"]) == (200, 5, True), body
        assert len(body["rows"]) == 5
        status, body = await sql(client, "SELECT report_id FROM reports LIMIT 5")
        assert (status, body["count"], body["truncated"]) == (200, 5, False), body
        status, body = await sql(client, "SELECT * FROM range(100000)")
        assert (status, body["count"], body["truncated"]) == (200, 5, True)


async def test_request_may_lower_the_limits_never_raise_them(
    stack: Any, archive: Archive, known: Known
) -> None:
    def cap(app: web.Application) -> None:
        app[LIMITS_KEY] = SqlLimits(max_rows=5, timeout_s=5.0)

    async with served(stack, options(archive), cap) as client:
        query = "SELECT report_id FROM reports"
        status, body = await sql(client, query, max_rows=2)
        assert (status, body["count"], body["truncated"]) == (200, 2, True), body
        status, body = await sql(client, query, max_rows=1_000_000)
        assert (status, body["count"], body["truncated"]) == (200, 5, True), body
        status, body = await sql(client, ENDLESS, timeout_s=0.3)
        assert (status, body) == (504, {"error": "the query was stopped after 0.3 s"})
        for bad in ({"max_rows": 0}, {"timeout_s": 0}, {"timeout_s": -1}):
            status, body = await sql(client, query, **bad)
            assert status == 400, (bad, body)
        status, body = await sql(client, "SELECT " + "1 + " * 30_000 + "1")
        assert status == 413, body


async def test_slow_query_is_interrupted(stack: Any, archive: Archive) -> None:
    def short(app: web.Application) -> None:
        app[LIMITS_KEY] = SqlLimits(timeout_s=0.5)

    async with served(stack, options(archive), short) as client:
        began = time.monotonic()
        status, body = await sql(client, ENDLESS)
        assert (status, body) == (504, {"error": "the query was stopped after 0.5 s"})
        assert time.monotonic() - began < 10
        # The next query runs normally.
        status, body = await sql(client, "SELECT count(*) AS n FROM alerts")
        assert status == 200, body


def test_the_deadline_stops_a_query_that_starts_after_it(archive: Archive) -> None:
    """The deadline passes while the archive is still being listed: one interrupt then would
    be lost, the repeated ones stop the query as soon as it starts."""
    began = time.monotonic()
    with pytest.raises(QueryTimedOut, match=r"^the (query was stopped|archive was not read)"):
        run_sql(archive, ENDLESS, TimeRange(), SqlLimits(timeout_s=0.001))
    assert time.monotonic() - began < 10


def test_a_deadline_passing_at_any_point_is_a_timeout(archive: Archive) -> None:
    """Deadlines from 0 to a few ms interrupt the connection while it is being confined,
    listed, locked or queried: each of those ends as a timeout, never as another error."""
    for step in range(40):
        with pytest.raises(QueryTimedOut):
            run_sql(archive, ENDLESS, TimeRange(), SqlLimits(timeout_s=step * 0.0002 or 1e-9))


async def test_a_query_over_the_memory_limit_is_400(stack: Any, archive: Archive) -> None:
    def small(app: web.Application) -> None:
        app[LIMITS_KEY] = SqlLimits(memory_limit="64MB", spill_limit=None)

    async with served(stack, options(archive), small) as client:
        began = time.monotonic()
        status, body = await sql(client, OVER_64MB)
        assert status == 400, body
        assert body["error"].startswith("Out of Memory Error: failed to allocate"), body
        assert body["error"].endswith("(the limit is 64MB per query)"), body
        assert "\n" not in body["error"]
        assert time.monotonic() - began < 30
        status, body = await sql(client, "SELECT count(*) AS n FROM alerts")
        assert status == 200, body


def test_a_hung_s3_fails_the_request_in_bounded_time() -> None:
    """An S3 that accepts connections and never answers: the connect-time listing is given up
    after 4 tries of ``http_timeout = ceil(timeout_s)`` (DuckDB's default 30 s: ~2 minutes)."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as hung:
        url = f"http://127.0.0.1:{hung.getsockname()[1]}"
        endpoints = Endpoints("nats://unused", url, "peaceland", "key", Secret("secret"))
        began = time.monotonic()
        with pytest.raises(StoreError) as failure:
            run_sql(Archive(endpoints, "hung/"), "SELECT 1", TimeRange(), SqlLimits(timeout_s=1))
        took = time.monotonic() - began
    assert took < 20, took
    message = str(failure.value)
    assert message.startswith(f"cannot read the archive s3://peaceland/hung/ at {url}: "), message
    assert "Timeout was reached" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("query", "refusal"),
    [("SELECT FROM WHERE", "Parser Error"), ("SET threads = 1", "not SET")],
)
def test_refused_sql_is_answered_before_the_archive_is_read(query: str, refusal: str) -> None:
    """Against an S3 that never answers, with a deadline long past: still a 400 at once."""
    with socket.create_server(("127.0.0.1", 0), backlog=16) as hung:
        url = f"http://127.0.0.1:{hung.getsockname()[1]}"
        endpoints = Endpoints("nats://unused", url, "peaceland", "key", Secret("secret"))
        began = time.monotonic()
        with pytest.raises(QueryError, match=refusal):
            run_sql(Archive(endpoints), query, TimeRange(), SqlLimits(timeout_s=1e-300))
        assert time.monotonic() - began < 5


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled"),
        ("SELECT * FROM read_text('/etc/hostname')", "file system operations are disabled"),
        ("SELECT * FROM glob('/etc/*')", "file system operations are disabled"),
        (
            "SELECT * FROM read_parquet('https://example.invalid/x.parquet')",
            "file system operations are disabled",
        ),
        ("INSTALL spatial", "only queries (SELECT, EXPLAIN) are run here, not LOAD"),
        ("LOAD spatial", "only queries (SELECT, EXPLAIN) are run here, not LOAD"),
        ("SET threads = 1", "only queries (SELECT, EXPLAIN) are run here, not SET"),
        ("RESET threads", "only queries (SELECT, EXPLAIN) are run here, not SET"),
        ("COPY (SELECT 1) TO '{tmp}/out.csv'", "not COPY"),
        ("ATTACH '{tmp}/other.duckdb'", "not ATTACH"),
        ("CREATE SECRET s (TYPE s3, ENDPOINT 'example.invalid')", "not CREATE"),
        ("CREATE TABLE t AS SELECT 1", "not CREATE"),
        ("SELECT 1; SET threads = 1", "send exactly one SQL statement, not 2"),
        ("SELECT FROM WHERE", "Parser Error"),
        ("SELECT * FROM no_such_view", "Catalog Error"),
    ],
)
async def test_refused_with_400_and_duckdbs_message(
    api: Client, tmp_path: Path, query: str, message: str
) -> None:
    status, body = await sql(api, query.format(tmp=tmp_path))
    assert status == 400, body
    assert message in body["error"]
    assert "\n" not in body["error"]
    assert await asyncio.to_thread(os.listdir, tmp_path) == []  # nothing was written


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"query": "SELECT 1"}', b'{"sql": 1}', b'{"sql": "  "}', b""],
)
async def test_bad_bodies_are_400(api: Client, body: bytes) -> None:
    status, answer, _ = await api.call("POST", "/api/v1/sql", body)
    assert status == 400, answer
    assert answer["error"]


async def test_unreadable_archive_is_503(stack: Any, archive: Archive) -> None:
    wrong = dataclasses.replace(archive.endpoints, s3_secret_key=Secret("not-the-key"))
    async with served(stack, options(Archive(wrong, archive.key_prefix))) as client:
        status, body = await sql(client, "SELECT count(*) FROM reports")
        assert status == 503, body
        assert "cannot read the archive" in body["error"]
    async with served(stack, options(None)) as client:
        status, body = await sql(client, "SELECT 1")
        assert (status, body) == (503, {"error": "this server has no archive configured"})


async def test_stats_route_runs_locked_and_still_answers(api: Client, known: Known) -> None:
    status, body, _ = await api.call("GET", "/api/v1/stats/reports_per_day", role="viewer")
    assert status == 200, body
    assert sum(row["reports"] for row in body["rows"]) == len(known.reports)
    assert sum(row["alerts"] for row in body["rows"]) == len(known.alerts)
