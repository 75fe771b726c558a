"""The archived kinds, in one table: everything the archive and analytics know of each. Pure.

    ARCHIVE_KINDS[name] -> ArchiveKind     REPORTS_KIND, ALERTS_KIND, DEADLETTER_KIND
    KINDS                                  the names, in archiving order

An ``ArchiveKind`` says where a kind comes from (its JetStream stream, from the contract),
what a row holds (Arrow schema and row builder, ``archive.schemas``), where an object goes
(folder prefix, partitioned by event hour or by day, on which time column), how rows are
ordered and encoded inside an object, which columns identify a row for deduplication, and
which columns its SQL view shows (none: no view). Layout, batching, the pipeline, status,
compaction and the analytics views all read this table, so a kind's facts live in one place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Final, Literal

import pyarrow as pa

from peaceland.archive.parquet import encode_parquet
from peaceland.archive.rows import Built, Received, RowFormat
from peaceland.archive.schemas import ALERT_ROWS, DEADLETTER_ROWS, REPORT_ROWS
from peaceland.contract import ALERTS_STREAM, DEADLETTER_STREAM, REPORTS_STREAM

Kind = Literal["reports", "alerts", "deadletter"]
#: A partition spans one event hour (``date=…/hour=…/``) or one day (``date=…/``).
Partitioning = Literal["hour", "day"]

#: Among copies of one row, the first received is kept (by compaction and by the views).
FIRST_RECEIVED: Final = ("received_at", "stream_seq")


@dataclasses.dataclass(frozen=True, slots=True)
class ArchiveKind:
    """One kind of archived message, from its stream to its SQL view."""

    name: Kind
    #: The JetStream stream it is archived from.
    stream: str
    rows: RowFormat
    partitioning: Partitioning
    #: The column whose UTC time picks the partition.
    time_column: str
    #: Row order inside an object: time first, for row-group pruning on time filters.
    sort_keys: tuple[str, ...]
    #: The columns that identify one row: rows sharing them are copies of the same item.
    dedup_keys: tuple[str, ...]
    #: The columns of its SQL view (named like the kind), in order; empty: no view.
    view_columns: tuple[str, ...] = ()
    #: Integer columns nearly sorted once the rows are: delta-encoded, not dictionary-encoded
    #: (27 rather than 36 bytes per report on the simulated fleet).
    delta_columns: tuple[str, ...] = ("received_at", "stream_seq")

    def __post_init__(self) -> None:
        if self.rows.kind != self.name:
            raise ValueError(f"{self.name}: rows of {self.rows.kind}")
        columns = set(self.schema.names)
        named = (
            self.time_column,
            *self.sort_keys,
            *self.dedup_keys,
            *self.view_columns,
            *self.delta_columns,
            *FIRST_RECEIVED,
        )
        missing = sorted({c for c in named if c not in columns})
        if missing:
            raise ValueError(f"{self.name}: no column {', '.join(missing)}")

    @property
    def schema(self) -> pa.Schema:
        return self.rows.schema

    @property
    def hourly(self) -> bool:
        return self.partitioning == "hour"

    @property
    def view(self) -> str | None:
        """The name of its SQL view, if it has one."""
        return self.name if self.view_columns else None

    def prefix(self, key_prefix: str = "") -> str:
        """Where every object of the kind lives: ``[key_prefix]name/``."""
        return f"{key_prefix}{self.name}/"

    def build(self, received: Received) -> Built:
        """Messages → one record batch of the kind's schema, and the rejected ones."""
        return self.rows.build(received)

    def to_parquet(self, table: pa.Table) -> bytes:
        return encode_parquet(table, self.delta_columns)


def _columns_but(schema: pa.Schema, *archive_only: str) -> tuple[str, ...]:
    """A view's columns: the schema's, less those only the archive needs."""
    return tuple(name for name in schema.names if name not in archive_only)


#: The ``reports`` view shows when a report was received (``received_at``), not where in the
#: stream; the ``alerts`` view shows an alert exactly as the contract's Alert object.
REPORTS_KIND: Final = ArchiveKind(
    name="reports",
    stream=REPORTS_STREAM,
    rows=REPORT_ROWS,
    partitioning="hour",
    time_column="ts",
    sort_keys=("ts", "stream_seq"),
    dedup_keys=("report_id",),  # the contract's dedup key
    view_columns=_columns_but(REPORT_ROWS.schema, "stream_seq"),
)
ALERTS_KIND: Final = ArchiveKind(
    name="alerts",
    stream=ALERTS_STREAM,
    rows=ALERT_ROWS,
    partitioning="hour",
    time_column="ts",
    sort_keys=("ts", "stream_seq"),
    dedup_keys=("alert_id",),
    view_columns=_columns_but(ALERT_ROWS.schema, "received_at", "stream_seq"),
)
#: Dead letters have no valid event time: partitioned by day of the JetStream time, one
#: row per stream message, and no view.
DEADLETTER_KIND: Final = ArchiveKind(
    name="deadletter",
    stream=DEADLETTER_STREAM,
    rows=DEADLETTER_ROWS,
    partitioning="day",
    time_column="received_at",
    sort_keys=("stream_seq",),
    dedup_keys=("stream_seq", "received_at"),
)

ARCHIVE_KINDS: Final[Mapping[Kind, ArchiveKind]] = {
    k.name: k for k in (REPORTS_KIND, ALERTS_KIND, DEADLETTER_KIND)
}
KINDS: Final[tuple[Kind, ...]] = tuple(ARCHIVE_KINDS)


def archive_kind(name: str) -> ArchiveKind:
    """The kind called ``name``; ``ValueError`` for any other name."""
    for kind in ARCHIVE_KINDS.values():
        if kind.name == name:
            return kind
    raise ValueError(f"no archive kind {name!r}: one of {', '.join(KINDS)}")
