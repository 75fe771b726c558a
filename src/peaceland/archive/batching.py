"""Batching for the archive: when to flush, and which objects a flush writes. Pure.

    FlushPolicy(max_rows, max_bytes, max_age_s)   when a batch is due
    Batch(policy, clock)                           rows held until written, with their handles
    plan_objects(kind, table, key_prefix)          a sealed batch → one object per partition

The clock is passed in (``time.monotonic`` in production), so age-based flushing is tested
without sleeping. A batch holds Arrow record batches, not decoded Python objects: memory stays
close to the size of the data, and a flush only concatenates.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Callable, Sequence
from typing import Final, Generic, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from peaceland.archive.kinds import ArchiveKind
from peaceland.archive.layout import Partition, batch_digest, digest_bytes, object_key
from peaceland.config import (
    DEFAULT_ARCHIVE_MAX_AGE_S,
    DEFAULT_ARCHIVE_MAX_BYTES,
    DEFAULT_ARCHIVE_MAX_ROWS,
)

H = TypeVar("H")
Clock = Callable[[], float]

# The age is a backstop: the pipeline also flushes as soon as a fetch finds nothing pending.
DEFAULT_MAX_ROWS: Final = DEFAULT_ARCHIVE_MAX_ROWS
DEFAULT_MAX_BYTES: Final = DEFAULT_ARCHIVE_MAX_BYTES
DEFAULT_MAX_AGE_S: Final = DEFAULT_ARCHIVE_MAX_AGE_S


@dataclasses.dataclass(frozen=True, slots=True)
class FlushPolicy:
    """A batch is flushed when it holds ``max_rows`` rows or ``max_bytes`` payload bytes, or
    when its oldest message has waited ``max_age_s`` seconds, whichever comes first."""

    max_rows: int = DEFAULT_MAX_ROWS
    max_bytes: int = DEFAULT_MAX_BYTES
    max_age_s: float = DEFAULT_MAX_AGE_S

    def __post_init__(self) -> None:
        if self.max_rows < 1 or self.max_bytes < 1 or not self.max_age_s > 0:
            raise ValueError(f"flush limits must be positive: {self}")


@dataclasses.dataclass(frozen=True, slots=True)
class Sealed(Generic[H]):
    """A batch taken for writing: its rows, the handles to acknowledge, why it was flushed."""

    table: pa.Table
    handles: list[H]
    payload_bytes: int
    reason: str


class Batch(Generic[H]):
    """Rows held until they are written, and one handle per row to acknowledge them after."""

    def __init__(self, schema: pa.Schema, policy: FlushPolicy, clock: Clock) -> None:
        self.schema = schema
        self.policy = policy
        self.clock = clock
        self._records: list[pa.RecordBatch] = []
        self._handles: list[H] = []
        self.rows = 0
        self.payload_bytes = 0
        self.opened_at: float | None = None

    def add(self, records: pa.RecordBatch, handles: Sequence[H], payload_bytes: int) -> None:
        if records.num_rows != len(handles):
            raise ValueError(f"{records.num_rows} rows but {len(handles)} handles")
        if not handles:
            return
        if self.opened_at is None:
            self.opened_at = self.clock()
        self._records.append(records)
        self._handles.extend(handles)
        self.rows += records.num_rows
        self.payload_bytes += payload_bytes

    @property
    def handles(self) -> list[H]:
        return self._handles

    def due(self) -> str | None:
        """Why the batch must be flushed now (``rows``, ``bytes``, ``age``), or None."""
        if self.opened_at is None:
            return None
        if self.rows >= self.policy.max_rows:
            return "rows"
        if self.payload_bytes >= self.policy.max_bytes:
            return "bytes"
        if self.clock() - self.opened_at >= self.policy.max_age_s:
            return "age"
        return None

    def seconds_left(self) -> float:
        """Until the batch is due by age; infinite while empty."""
        if self.opened_at is None:
            return math.inf
        return max(0.0, self.opened_at + self.policy.max_age_s - self.clock())

    def room(self) -> tuple[int, int]:
        """(rows, payload bytes) that may still come in before the batch is due."""
        return (
            max(0, self.policy.max_rows - self.rows),
            max(0, self.policy.max_bytes - self.payload_bytes),
        )

    def seal(self, reason: str) -> Sealed[H]:
        """Take everything held, leaving the batch empty."""
        table = pa.Table.from_batches(self._records, schema=self.schema)
        sealed = Sealed(table, self._handles, self.payload_bytes, reason)
        self._records, self._handles = [], []
        self.rows = self.payload_bytes = 0
        self.opened_at = None
        return sealed


@dataclasses.dataclass(frozen=True, slots=True)
class PlannedObject:
    key: str
    partition: Partition
    table: pa.Table


def plan_objects(kind: ArchiveKind, table: pa.Table, key_prefix: str = "") -> list[PlannedObject]:
    """One object per partition of ``table``'s rows, sorted, named from the messages it holds.

    Deterministic: the same rows in any order give the same keys and the same tables.
    """
    if table.num_rows == 0:
        return []
    times = table[kind.time_column]
    starts = pc.floor_temporal(times, unit=kind.partitioning).cast(pa.int64())
    if starts.null_count:
        raise ValueError(f"{kind.name}: {kind.time_column} has nulls")
    starts_list: list[int] = sorted(pc.unique(starts).to_pylist())
    planned = []
    for start in starts_list:
        part = table if len(starts_list) == 1 else table.filter(pc.equal(starts, start))
        order = pc.sort_indices(part, sort_keys=[(k, "ascending") for k in kind.sort_keys])
        part = part.take(order).combine_chunks()
        partition = Partition.of_micros(kind.name, start)
        planned.append(PlannedObject(_key(partition, part, key_prefix), partition, part))
    return planned


def _key(partition: Partition, part: pa.Table, key_prefix: str) -> str:
    seqs = part["stream_seq"].combine_chunks()
    times = part["received_at"].combine_chunks().cast(pa.int64())
    if seqs.null_count or times.null_count:
        raise ValueError("nulls in stream_seq or received_at")
    by_seq = pc.sort_indices(seqs)
    ordered_seqs, ordered_times = seqs.take(by_seq), times.take(by_seq)
    if sys.byteorder == "little":
        digest = digest_bytes(_raw_bytes(ordered_seqs), _raw_bytes(ordered_times))
    else:  # pragma: no cover - Arrow buffers are native-endian
        digest = batch_digest(ordered_seqs.to_pylist(), ordered_times.to_pylist())
    first, last = ordered_seqs[0].as_py(), ordered_seqs[-1].as_py()
    return object_key(partition, first, last, part.num_rows, digest, key_prefix)


def _raw_bytes(values: pa.Array) -> bytes:
    """The native bytes of a null-free int64 array."""
    data = values.buffers()[1]
    return memoryview(data)[values.offset * 8 : (values.offset + len(values)) * 8].tobytes()
