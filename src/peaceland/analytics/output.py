"""Query results as a terminal table, CSV or JSON (``--format table|csv|json``).

JSON is an array of objects, one per row (times in RFC 3339, UTC); CSV has a header line,
times in RFC 3339 and lists or structs as JSON; the table rounds floats to 4 decimals.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time
from typing import Any, Final, Literal, TextIO

import msgspec
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .stats import Result

Format = Literal["table", "csv", "json"]
FORMATS: Final[tuple[Format, ...]] = ("table", "csv", "json")
#: Width of a table written to a pipe or a file (a terminal uses its own width).
PIPE_WIDTH: Final = 160


def _fallback(value: Any) -> Any:
    return str(value)


# Sums come back from DuckDB as HUGEINT, i.e. Arrow decimals: numbers, not strings, in JSON.
_JSON: Final = msgspec.json.Encoder(enc_hook=_fallback, decimal_format="number")


def to_json(value: Any) -> bytes:
    return _JSON.encode(value)


def cell_text(value: Any, *, table: bool = False) -> str:
    """One value as text: RFC 3339 times, JSON for lists and structs, '' for null."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if value.utcoffset() is not None:
            value = value.astimezone(UTC)
            return f"{value:%Y-%m-%d %H:%M:%S}Z" if table else value.isoformat()[:-6] + "Z"
        return f"{value:%Y-%m-%d %H:%M:%S}" if table else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.4f}" if table else repr(value)
    if isinstance(value, list | dict | tuple):
        return _JSON.encode(value).decode()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def to_csv(result: Result) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result.columns)
    for row in result.rows():
        writer.writerow(cell_text(v) for v in row.values())
    return out.getvalue()


def write_result(result: Result, fmt: Format, out: TextIO, title: str | None = None) -> None:
    if fmt == "json":
        out.write(to_json(result.rows()).decode() + "\n")
    elif fmt == "csv":
        out.write(to_csv(result))
    else:
        if title:
            out.write(title + "\n")
        table = Table(*result.columns, box=None)
        for row in result.rows():
            table.add_row(*(escape(cell_text(v, table=True)) for v in row.values()))
        width = None if out.isatty() else PIPE_WIDTH
        Console(file=out, width=width, highlight=False).print(table)
        if len(result) == 0:
            out.write("(no rows)\n")
