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
``EXPLAIN``. At most ``max_rows`` rows come back (``truncated`` says when more matched). The
request may lower ``max_rows`` and ``timeout_s``, never raise them over the server's
``SqlLimits`` (10,000 rows, 30 s, 1 GB of memory by default).

Time: the ``timeout_s`` deadline starts before the archive is listed on S3, not when the query
starts; from then on the connection is interrupted every 0.1 s until the request ends, since
DuckDB drops an interrupt that arrives between two statements. An interrupt does not cut an
S3 request in flight, so each one is bounded by ``http_timeout = ceil(timeout_s)`` (1 to 30 s)
instead, and DuckDB tries it 4 times: on an S3 server that accepts connections and never
answers, a request ends after about ``4 * ceil(timeout_s)`` seconds (2 minutes at most) with a
503. Memory: each connection is its own DuckDB instance limited to ``memory_limit``, beyond
which it spills to a private directory up to ``spill_limit`` (``catalog.Confinement``), so
the ``MAX_CONCURRENT`` queries of a process use at most about ``MAX_CONCURRENT *
memory_limit`` of memory (plus what DuckDB does not count, such as result batches on their
way out); a query over both limits fails with a 400.

Errors are ``{"error": "..."}``: 400 for a bad body, a statement that is not a query or any SQL
error (DuckDB's message, on one line; for a query over the memory limit, DuckDB's "Out of
Memory Error" and the limit), 413 for a body or an SQL text over the limit, 503 when the
archive cannot be read or none is configured, 504 when the query ran out of time.
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

from peaceland.analytics import (
    DEFAULT_MEMORY_LIMIT,
    DEFAULT_SPILL_LIMIT,
    Archive,
    Confinement,
    TimeRange,
    attach_archive,
    one_line,
    open_duckdb,
    to_json,
)
from peaceland.contract import AnalyticsError, InvalidTimeRange, QueryError, StoreError
from peaceland.web.responses import json_error

MAX_CONCURRENT: Final = 2
DEFAULT_MAX_ROWS: Final = 10_000
DEFAULT_TIMEOUT_S: Final = 30.0
#: How often a query past its deadline is interrupted again.
INTERRUPT_EVERY_S: Final = 0.1
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
    """Per request: rows returned, seconds from connect to the last row, DuckDB's
    ``memory_limit`` for the request's connection (``"1GB"``, ``"512MB"``...) and how much
    it may spill to disk beyond it (``None``: nothing)."""

    max_rows: int = DEFAULT_MAX_ROWS
    timeout_s: float = DEFAULT_TIMEOUT_S
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    spill_limit: str | None = DEFAULT_SPILL_LIMIT

    def confinement(self) -> Confinement:
        return Confinement.within(self.timeout_s, self.memory_limit, self.spill_limit)


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

    ``limits.timeout_s`` counts from before the S3 listing. Raises ``QueryError`` (the SQL is
    refused or fails, or is over the memory limit), ``QueryTimedOut`` or ``StoreError``.
    """
    con = open_duckdb()
    deadline: _Deadline | None = None
    try:
        _check_query(con, sql)  # SQL refused or unparsable is answered before S3 is read
        deadline = _Deadline(con, limits.timeout_s)
        try:
            attach_archive(con, archive, time_range, locked=limits.confinement())
        except duckdb.InterruptException:
            raise QueryTimedOut(
                f"the archive was not read within {limits.timeout_s:g} s: the query never ran"
            ) from None
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
        raise _failure(exc, limits, timed_out=deadline is not None and deadline.passed) from None
    finally:
        if deadline is not None:
            deadline.stop()  # no interrupt may reach a closed connection
        con.close()


class _Deadline:
    """Interrupts ``con`` from ``timeout_s`` on, again every ``INTERRUPT_EVERY_S`` until
    ``stop``: DuckDB drops an interrupt sent while no statement runs, so one alone could miss
    a statement started just after the deadline."""

    def __init__(self, con: duckdb.DuckDBPyConnection, timeout_s: float) -> None:
        self.passed = False
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(con, timeout_s), name="sql-deadline", daemon=True
        )
        self._thread.start()

    def _run(self, con: duckdb.DuckDBPyConnection, timeout_s: float) -> None:
        if self._done.wait(timeout_s):
            return
        self.passed = True
        while True:
            con.interrupt()
            if self._done.wait(INTERRUPT_EVERY_S):
                return

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _check_query(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    statements = con.extract_statements(sql)
    if len(statements) != 1:
        raise QueryError(f"send exactly one SQL statement, not {len(statements)}")
    kind = statements[0].type
    if kind not in QUERY_TYPES:
        raise QueryError(f"only queries (SELECT, EXPLAIN) are run here, not {kind.name}")


def _failure(
    exc: BaseException, limits: SqlLimits, *, timed_out: bool
) -> AnalyticsError | StoreError:
    message = one_line(exc)
    if isinstance(exc, duckdb.InterruptException) or (timed_out and "INTERRUPT" in message.upper()):
        return QueryTimedOut(f"the query was stopped after {limits.timeout_s:g} s")
    if isinstance(exc, duckdb.OutOfMemoryException) or "Out of Memory Error" in message:
        # DuckDB's advice after the first line (a temp directory, fewer threads) needs a SET.
        lines = (line.strip() for line in str(exc).splitlines() if "Out of Memory" in line)
        limit = limits.memory_limit
        if limits.spill_limit is not None:
            limit += f" of memory, then {limits.spill_limit} spilled to disk,"
        return QueryError(f"{next(lines, message)} (the limit is {limit} per query)")
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
    return dataclasses.replace(
        limits,
        max_rows=min(limits.max_rows, body.max_rows or limits.max_rows),
        timeout_s=min(limits.timeout_s, body.timeout_s or limits.timeout_s),
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
