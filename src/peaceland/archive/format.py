"""What an archived object contains: one Arrow schema per kind, built in bulk, and Parquet. Pure.

    REPORTS_FORMAT / ALERTS_FORMAT / DEADLETTER_FORMAT    one ``ArchiveFormat`` per kind
    fmt.build(received) -> Built                          messages → one Arrow record batch
    encode_parquet(table) -> bytes / decode_parquet(data) Parquet, zstd

A batch is built column by column from plain lists of decoded values (one list comprehension
per column, nested lists from flat value arrays and offsets), never row by row into a table.
Payloads that break the contract are returned as ``rejected`` with the reason, for the dead
letter stream; they are never archived as garbage.

Columns beyond the contract views: ``stream_seq`` (the JetStream sequence, which names the
object and lets a reader reason about redeliveries) and, for reports and alerts,
``received_at`` (the JetStream timestamp of the message).
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq

from peaceland.archive.layout import Kind
from peaceland.contract import Alert, InvalidReport, Report, decode_alert, decode_report

log = logging.getLogger(__name__)

UTC_MICROS: Final = pa.timestamp("us", tz="UTC")
CITIZEN: Final = pa.struct([("name", pa.string()), ("peacescore", pa.int32())])

# Parquet knobs, chosen on the archive benchmark (benchmarks/archive_throughput.py).
ZSTD_LEVEL: Final = 3
ROW_GROUP_ROWS: Final = 128 * 1024

_JSON: Final = msgspec.json.Encoder()
# What a column conversion may raise on values the decoder let through.
_CONVERT_ERRORS: Final = (
    pa.ArrowException,
    msgspec.EncodeError,
    ValueError,
    TypeError,
    OverflowError,
)


@dataclasses.dataclass(slots=True)
class Received:
    """Messages as fetched, one list per field: the input of ``ArchiveFormat.build``."""

    payloads: list[bytes] = dataclasses.field(default_factory=list)
    seqs: list[int] = dataclasses.field(default_factory=list)
    received_ns: list[int] = dataclasses.field(default_factory=list)
    subjects: list[str] = dataclasses.field(default_factory=list)
    #: The ``Peaceland-Error`` header, for dead letters; ``None`` elsewhere.
    reasons: list[str | None] = dataclasses.field(default_factory=list)

    def append(
        self, payload: bytes, seq: int, received_ns: int, subject: str, reason: str | None
    ) -> None:
        self.payloads.append(payload)
        self.seqs.append(seq)
        self.received_ns.append(received_ns)
        self.subjects.append(subject)
        self.reasons.append(reason)

    def __len__(self) -> int:
        return len(self.payloads)


@dataclasses.dataclass(frozen=True, slots=True)
class Built:
    """A record batch of the accepted messages (in input order) and the rejected ones."""

    batch: pa.RecordBatch
    #: Input index of each row of ``batch``.
    kept: list[int]
    #: (input index, reason) of each message that cannot be archived.
    rejected: list[tuple[int, str]]


#: (payload, subject) → the decoded item; raises ``InvalidReport`` with the reason.
Decoder = Callable[[bytes, str], Any]
Columns = Callable[[list[Any], Received, list[int]], list[pa.Array]]


@dataclasses.dataclass(frozen=True, slots=True)
class ArchiveFormat:
    """How one kind of message becomes rows: schema, decoder, column builder, order."""

    kind: Kind
    schema: pa.Schema
    #: The column whose UTC time picks the partition.
    time_column: str
    #: Row order inside an object: time first, for row-group pruning on time filters.
    sort_keys: tuple[str, ...]
    decode: Decoder
    columns: Columns
    #: Integer columns nearly sorted once the rows are: delta-encoded, not dictionary-encoded
    #: (27 rather than 36 bytes per report on the simulated fleet).
    delta_columns: tuple[str, ...] = ("received_at", "stream_seq")

    def build(self, received: Received) -> Built:
        items: list[Any] = []
        kept: list[int] = []
        rejected: list[tuple[int, str]] = []
        decode = self.decode
        for index, (payload, subject) in enumerate(
            zip(received.payloads, received.subjects, strict=True)
        ):
            try:
                items.append(decode(payload, subject))
            except InvalidReport as exc:
                rejected.append((index, exc.reason))
            else:
                kept.append(index)
        try:
            arrays = self.columns(items, received, kept)
        except _CONVERT_ERRORS:
            return self._build_one_by_one(items, received, kept, rejected)
        return Built(pa.RecordBatch.from_arrays(arrays, schema=self.schema), kept, rejected)

    def to_parquet(self, table: pa.Table) -> bytes:
        return encode_parquet(table, self.delta_columns)

    def _build_one_by_one(
        self,
        items: list[Any],
        received: Received,
        kept: list[int],
        rejected: list[tuple[int, str]],
    ) -> Built:
        """A conversion failed for the whole batch: find the culprits, keep the rest."""
        batches: list[pa.RecordBatch] = []
        good: list[int] = []
        for item, index in zip(items, kept, strict=True):
            try:
                arrays = self.columns([item], received, [index])
            except _CONVERT_ERRORS as exc:
                log.warning(
                    "%s seq %d cannot be archived: %s", self.kind, received.seqs[index], exc
                )
                rejected.append((index, f"cannot be archived: {exc}"))
            else:
                batches.append(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
                good.append(index)
        rejected.sort()
        return Built(_concat(batches, self.schema), good, rejected)


def _concat(batches: list[pa.RecordBatch], schema: pa.Schema) -> pa.RecordBatch:
    if not batches:
        return pa.RecordBatch.from_pylist([], schema=schema)
    combined = pa.Table.from_batches(batches, schema=schema).combine_chunks()
    batch: pa.RecordBatch = combined.to_batches()[0]
    return batch


# -- shared column helpers --------------------------------------------------------------------


def _pick(values: Sequence[Any], indexes: list[int]) -> list[Any]:
    return [values[i] for i in indexes]


def _received_at(received: Received, kept: list[int]) -> pa.Array:
    micros = [received.received_ns[i] // 1000 for i in kept]
    return pa.array(micros, pa.int64()).cast(UTC_MICROS)


def _seqs(received: Received, kept: list[int]) -> pa.Array:
    return pa.array(_pick(received.seqs, kept), pa.int64())


def _string_lists(lists: list[list[str]]) -> pa.Array:
    offsets = pa.array([0, *itertools.accumulate(map(len, lists))], pa.int32())
    flat = pa.array(list(itertools.chain.from_iterable(lists)), pa.string())
    return pa.ListArray.from_arrays(offsets, flat)


# -- reports ----------------------------------------------------------------------------------

REPORTS_SCHEMA: Final = pa.schema(
    [
        pa.field("report_id", pa.string(), nullable=False),
        pa.field("drone_id", pa.string(), nullable=False),
        pa.field("ts", UTC_MICROS, nullable=False),
        pa.field("lat", pa.float64(), nullable=False),
        pa.field("lon", pa.float64(), nullable=False),
        pa.field("citizens", pa.list_(CITIZEN), nullable=False),
        pa.field("words", pa.list_(pa.string()), nullable=False),
        pa.field("extra", pa.string()),  # JSON object of the unknown fields, null when none
        pa.field("received_at", UTC_MICROS, nullable=False),
        pa.field("stream_seq", pa.int64(), nullable=False),
    ]
)


def _report_columns(reports: list[Report], received: Received, kept: list[int]) -> list[pa.Array]:
    citizen_lists = [r.citizens for r in reports]
    citizens = list(itertools.chain.from_iterable(citizen_lists))
    citizen_offsets = pa.array([0, *itertools.accumulate(map(len, citizen_lists))], pa.int32())
    citizen_values = pa.StructArray.from_arrays(
        [
            pa.array([c.name for c in citizens], pa.string()),
            pa.array([c.peacescore for c in citizens], pa.int32()),
        ],
        fields=list(CITIZEN),
    )
    extra = [None if r.extra is None else _JSON.encode(r.extra) for r in reports]
    return [
        pa.array([r.report_id for r in reports], pa.string()),
        pa.array([r.drone_id for r in reports], pa.string()),
        pa.array([r.ts for r in reports], UTC_MICROS),
        pa.array([r.lat for r in reports], pa.float64()),
        pa.array([r.lon for r in reports], pa.float64()),
        pa.ListArray.from_arrays(citizen_offsets, citizen_values),
        _string_lists([r.words for r in reports]),
        pa.array(extra, pa.string()),
        _received_at(received, kept),
        _seqs(received, kept),
    ]


#: ``bus.REPORTS_PREFIX`` (contract), not imported: the format knows nothing of NATS.
REPORT_SUBJECT_PREFIX: Final = "peaceland.reports."


def _decode_report(payload: bytes, subject: str) -> Report:
    """A valid report sent on its own drone's subject, as the alerter requires too."""
    report = decode_report(payload)
    if subject != REPORT_SUBJECT_PREFIX + report.drone_id:
        raise InvalidReport(f"drone_id {report.drone_id!r} does not match the subject {subject!r}")
    return report


REPORTS_FORMAT: Final = ArchiveFormat(
    kind="reports",
    schema=REPORTS_SCHEMA,
    time_column="ts",
    sort_keys=("ts", "stream_seq"),
    decode=_decode_report,
    columns=_report_columns,
)


# -- alerts -----------------------------------------------------------------------------------

ALERTS_SCHEMA: Final = pa.schema(
    [
        pa.field("alert_id", pa.string(), nullable=False),
        pa.field("report_id", pa.string(), nullable=False),
        pa.field("drone_id", pa.string(), nullable=False),
        pa.field("ts", UTC_MICROS, nullable=False),
        pa.field("lat", pa.float64(), nullable=False),
        pa.field("lon", pa.float64(), nullable=False),
        pa.field("citizen", pa.string(), nullable=False),
        pa.field("peacescore", pa.int32(), nullable=False),
        pa.field("severity", pa.string(), nullable=False),
        pa.field("words", pa.list_(pa.string()), nullable=False),
        pa.field("raised_at", UTC_MICROS, nullable=False),
        pa.field("received_at", UTC_MICROS, nullable=False),
        pa.field("stream_seq", pa.int64(), nullable=False),
    ]
)


@dataclasses.dataclass(frozen=True, slots=True)
class _ArchivedAlert:
    alert: Alert
    raised_at: datetime


def _decode_alert(payload: bytes, subject: str) -> _ArchivedAlert:
    alert = decode_alert(payload)
    try:
        raised_at = datetime.fromisoformat(alert.raised_at)
    except ValueError:
        raise InvalidReport(
            f"not an alert: raised_at {alert.raised_at!r} is not RFC 3339"
        ) from None
    if raised_at.utcoffset() is None or alert.ts.utcoffset() is None:
        raise InvalidReport("not an alert: ts and raised_at need a zone")
    return _ArchivedAlert(alert, raised_at)


def _alert_columns(
    items: list[_ArchivedAlert], received: Received, kept: list[int]
) -> list[pa.Array]:
    alerts = [item.alert for item in items]
    return [
        pa.array([a.alert_id for a in alerts], pa.string()),
        pa.array([a.report_id for a in alerts], pa.string()),
        pa.array([a.drone_id for a in alerts], pa.string()),
        pa.array([a.ts for a in alerts], UTC_MICROS),
        pa.array([a.lat for a in alerts], pa.float64()),
        pa.array([a.lon for a in alerts], pa.float64()),
        pa.array([a.citizen for a in alerts], pa.string()),
        pa.array([a.peacescore for a in alerts], pa.int32()),
        pa.array([a.severity for a in alerts], pa.string()),
        _string_lists([a.words for a in alerts]),
        pa.array([item.raised_at for item in items], UTC_MICROS),
        _received_at(received, kept),
        _seqs(received, kept),
    ]


ALERTS_FORMAT: Final = ArchiveFormat(
    kind="alerts",
    schema=ALERTS_SCHEMA,
    time_column="ts",
    sort_keys=("ts", "stream_seq"),
    decode=_decode_alert,
    columns=_alert_columns,
)


# -- dead letters -----------------------------------------------------------------------------

DEADLETTER_SCHEMA: Final = pa.schema(
    [
        pa.field("received_at", UTC_MICROS, nullable=False),
        pa.field("subject", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),  # the subject's last token
        pa.field("reason", pa.string()),  # the Peaceland-Error header
        pa.field("payload", pa.binary(), nullable=False),  # untouched
        pa.field("stream_seq", pa.int64(), nullable=False),
    ]
)


def _raw(payload: bytes, subject: str) -> bytes:
    return payload  # anything is a valid dead letter


def _deadletter_columns(
    payloads: list[bytes], received: Received, kept: list[int]
) -> list[pa.Array]:
    subjects = _pick(received.subjects, kept)
    return [
        _received_at(received, kept),
        pa.array(subjects, pa.string()),
        pa.array([s.rpartition(".")[2] for s in subjects], pa.string()),
        pa.array(_pick(received.reasons, kept), pa.string()),
        pa.array(payloads, pa.binary()),
        _seqs(received, kept),
    ]


DEADLETTER_FORMAT: Final = ArchiveFormat(
    kind="deadletter",
    schema=DEADLETTER_SCHEMA,
    time_column="received_at",
    sort_keys=("stream_seq",),
    decode=_raw,
    columns=_deadletter_columns,
)


FORMATS: Final[dict[Kind, ArchiveFormat]] = {
    f.kind: f for f in (REPORTS_FORMAT, ALERTS_FORMAT, DEADLETTER_FORMAT)
}


# -- Parquet ----------------------------------------------------------------------------------


def encode_parquet(table: pa.Table, delta_columns: Sequence[str] = ()) -> bytes:
    """One Parquet file, zstd, with statistics (for row-group pruning on ts).

    ``delta_columns`` are delta-encoded; every other column is dictionary-encoded (falling
    back to plain where a dictionary does not pay).
    """
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        row_group_size=ROW_GROUP_ROWS,
        **parquet_options(table.schema, delta_columns),
    )
    data: bytes = sink.getvalue().to_pybytes()
    return data


def parquet_options(schema: pa.Schema, delta_columns: Sequence[str] = ()) -> dict[str, Any]:
    """The writer options of every archived object (``encode_parquet``, and compaction's
    ``pq.ParquetWriter``): zstd, statistics, dictionary or delta encoding per column."""
    delta = set(delta_columns)
    return {
        "compression": "zstd",
        "compression_level": ZSTD_LEVEL,
        "write_statistics": True,
        "use_dictionary": [p for p in leaf_paths(schema) if p.split(".")[0] not in delta],
        "column_encoding": dict.fromkeys(delta, "DELTA_BINARY_PACKED") or None,
    }


def decode_parquet(data: bytes) -> pa.Table:
    return pq.read_table(pa.BufferReader(data))


def leaf_paths(schema: pa.Schema) -> list[str]:
    """Parquet column paths of the leaves, e.g. ``citizens.list.element.name``."""

    def walk(prefix: str, kind: pa.DataType) -> list[str]:
        if pa.types.is_struct(kind):
            return [p for f in kind for p in walk(f"{prefix}.{f.name}", f.type)]
        if pa.types.is_list(kind) or pa.types.is_large_list(kind):
            return walk(f"{prefix}.list.element", kind.value_type)
        return [prefix]

    return [p for f in schema for p in walk(f.name, f.type)]
