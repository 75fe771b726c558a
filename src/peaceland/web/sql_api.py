"""Ad-hoc SQL over HTTP: ``POST /api/v1/sql``, read-only, on a locked-down DuckDB.

Request body (JSON)::

    {"sql": "SELECT drone_id, count(*) AS n FROM reports GROUP BY ALL",
     "since": "7d", "until": null,                  # optional, as for /api/v1/stats
     "max_rows": 100, "timeout_s": 5}               # optional, at most the server's limits

Answer::

    {"columns": ["drone_id", "n"], "rows": [{"drone_id": "pw-01", "n": 12}, ...],
     "count": 2, "truncated": false}

The SQL (DuckDB dialect) sees the views ``reports``, ``sightings`` and ``alerts``, scoped to
``since <= ts < until`` when given. Each request gets its own in-memory connection, locked down
by ``catalog.lock_down`` (no local files, no other URLs, no extensions, no ``SET``), and only
one query is accepted: a ``SELECT`` (``WITH``, ``FROM``, ``DESCRIBE``, ``SUMMARIZE``...) or an
``EXPLAIN``. At most ``max_rows`` rows come back (``truncated`` says when more matched); a query
still running after ``timeout_s`` is interrupted. The request may lower both, never raise them
over the server's ``SqlLimits`` (10,000 rows, 30 s by default).

Errors are ``{"error": "..."}``: 400 for a bad body, a statement that is not a query or any SQL
error (DuckDB's message, on one line), 413 for a body or an SQL text over the limit, 503 when
the archive cannot be read or none is configured, 504 when the query ran out of time.
Queries run in worker threads, at most ``MAX_CONCURRENT`` at a time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from datetime import UTC, datetime
from typing import Any, Final

import duckdb
import msgspec
import pyarrow as pa
from aiohttp import web

from peaceland.analytics.catalog import Archive, connect, one_line
from peaceland.analytics.output import to_json
from peaceland.analytics.timerange import TimeRange
from peaceland.errors import AnalyticsError, InvalidTimeRange, QueryError, StoreError
from peaceland.web.responses import json_error

MAX_CONCURRENT: Final = 2
DEFAULT_MAX_ROWS: Final = 10_000
DEFAULT_TIMEOUT_S: Final = 30.0
MAX_SQL_CHARS: Final = 100_000
_BATCH_ROWS: Final = 2_048
#: The statements a read-only endpoint runs (DESCRIBE, SHOW, SUMMARIZE, PRAGMA x are SELECTs).
QUERY_TYPES: Final = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})


class QueryTimedOut(AnalyticsError):
    """The query was interrupted after the time allowed."""


class SqlRequest(msgspec.Struct, forbid_unknown_fields=True):
    sql: str
    since: str | None = None
    until: str | None = None
    max_rows: int | None = None
    timeout_s: float | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SqlLimits:
    max_rows: int = DEFAULT_MAX_ROWS
    timeout_s: float = DEFAULT_TIMEOUT_S


@dataclasses.dataclass(frozen=True, slots=True)
class SqlAnswer:
    table: pa.Table
    truncated: bool

    def body(self) -> dict[str, Any]:
        rows: list[dict[str, Any]] = self.table.to_pylist()
        return {
            "columns": list(self.table.column_names),
            "rows": rows,
            "count": len(rows),
            "truncated": self.truncated,
        }


ARCHIVE_KEY: Final = web.AppKey("sql_archive", Archive)
LIMITS_KEY: Final = web.AppKey("sql_limits", SqlLimits)
SLOTS_KEY: Final = web.AppKey("sql_slots", asyncio.Semaphore)
_decode = msgspec.json.Decoder(SqlRequest).decode


def run_sql(archive: Archive, sql: str, time_range: TimeRange, limits: SqlLimits) -> SqlAnswer:
    """Run one query on a locked-down connection (blocking: call it from a worker thread).

    Raises ``QueryError`` (the SQL is refused or fails), ``QueryTimedOut`` or ``StoreError``.
    """
    con = connect(archive, since=time_range.since, until=time_range.until, locked=True)
    timer = threading.Timer(limits.timeout_s, con.interrupt)
    timer.daemon = True
    try:
        _check_query(con, sql)
        timer.start()
        reader = con.execute(sql).to_arrow_reader(_BATCH_ROWS)
        batches: list[pa.RecordBatch] = []
        seen = 0
        for batch in reader:
            batches.append(batch)
            seen += batch.num_rows
            if seen > limits.max_rows:
                break
        table = pa.Table.from_batches(batches, schema=reader.schema).slice(0, limits.max_rows)
        return SqlAnswer(_unique_names(table), truncated=seen > limits.max_rows)
    except (duckdb.Error, pa.ArrowException) as exc:
        raise _failure(exc, limits.timeout_s) from None
    finally:
        timer.cancel()
        con.close()


def _check_query(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    statements = con.extract_statements(sql)
    if len(statements) != 1:
        raise QueryError(f"send exactly one SQL statement, not {len(statements)}")
    kind = statements[0].type
    if kind not in QUERY_TYPES:
        raise QueryError(f"only queries (SELECT, EXPLAIN) are run here, not {kind.name}")


def _failure(exc: BaseException, timeout_s: float) -> AnalyticsError | StoreError:
    message = one_line(exc)
    if isinstance(exc, duckdb.InterruptException) or "INTERRUPT" in message.upper():
        return QueryTimedOut(f"the query was stopped after {timeout_s:g} s")
    if isinstance(exc, duckdb.HTTPException) or (
        isinstance(exc, duckdb.IOException) and "HTTP" in message
    ):
        return StoreError(f"cannot read the archive: {message}")
    return QueryError(message)


def _unique_names(table: pa.Table) -> pa.Table:
    """Rows are objects: a repeated column name (``SELECT 1 AS a, 2 AS a``) gets a suffix."""
    names: list[str] = []
    for name in table.column_names:
        unique, n = name, 1
        while unique in names:
            n += 1
            unique = f"{name}_{n}"
        names.append(unique)
    return table if names == table.column_names else table.rename_columns(names)


async def post_sql(request: web.Request) -> web.Response:
    try:
        body = _decode(await request.read())
    except web.HTTPRequestEntityTooLarge:
        return json_error(413, "body is over the size limit")
    except msgspec.DecodeError as exc:
        return json_error(400, f'expected {{"sql": "...", "since"?, "until"?}}: {exc}')
    if not body.sql.strip():
        return json_error(400, "sql is empty")
    if len(body.sql) > MAX_SQL_CHARS:
        return json_error(413, f"sql is over {MAX_SQL_CHARS} characters")
    if body.max_rows is not None and body.max_rows < 1:
        return json_error(400, "max_rows must be at least 1")
    if body.timeout_s is not None and not 0 < body.timeout_s < float("inf"):
        return json_error(400, "timeout_s must be a positive number of seconds")
    try:
        time_range = TimeRange.parse(body.since, body.until, datetime.now(UTC))
    except InvalidTimeRange as exc:
        return json_error(400, str(exc))
    archive = request.app.get(ARCHIVE_KEY)
    if archive is None:
        return json_error(503, "this server has no archive configured")
    limits = _lowered(request.app[LIMITS_KEY], body)
    try:
        async with request.app[SLOTS_KEY]:
            answer = await asyncio.to_thread(run_sql, archive, body.sql, time_range, limits)
    except StoreError as exc:
        return json_error(503, str(exc))
    except QueryTimedOut as exc:
        return json_error(504, str(exc))
    except QueryError as exc:
        return json_error(400, str(exc))
    return web.Response(status=200, body=to_json(answer.body()), content_type="application/json")


def _lowered(limits: SqlLimits, body: SqlRequest) -> SqlLimits:
    """The server's limits, lowered (never raised) by the request's."""
    return SqlLimits(
        min(limits.max_rows, body.max_rows or limits.max_rows),
        min(limits.timeout_s, body.timeout_s or limits.timeout_s),
    )


def add_sql_routes(
    app: web.Application, archive: Archive | None, limits: SqlLimits | None = None
) -> None:
    """``archive=None``: the route answers 503 (e.g. an app serving ingest only)."""
    if archive is not None:
        app[ARCHIVE_KEY] = archive
    app[LIMITS_KEY] = limits or SqlLimits()
    app[SLOTS_KEY] = asyncio.Semaphore(MAX_CONCURRENT)
    app.router.add_post("/api/v1/sql", post_sql)
