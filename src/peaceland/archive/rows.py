"""Messages → Arrow record batches, column by column. Pure.

    Received                                     fetched messages, one list per field
    RowFormat(kind, schema, decode, columns)     how one kind's payloads become columns
    fmt.build(received) -> Built                 one record batch, plus the rejected messages

A batch is built column by column from plain lists of decoded values (one list comprehension
per column, nested lists from flat value arrays and offsets), never row by row into a table.
Payloads that break the contract are returned as ``rejected`` with the reason, for the dead
letter stream; they are never archived as garbage. The schema and columns of each kind are in
``archive.schemas``; everything else about a kind in ``archive.kinds``.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Callable, Sequence
from typing import Any, Final

import msgspec
import pyarrow as pa

from peaceland.contract import InvalidReport

log = logging.getLogger(__name__)

UTC_MICROS: Final = pa.timestamp("us", tz="UTC")
CITIZEN: Final = pa.struct([("name", pa.string()), ("peacescore", pa.int32())])

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
    """Messages as fetched, one list per field: the input of ``RowFormat.build``."""

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
class RowFormat:
    """How one kind of message becomes rows: schema, decoder, column builder."""

    #: The kind's name (``archive.kinds``), for messages.
    kind: str
    schema: pa.Schema
    decode: Decoder
    columns: Columns

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


# -- column helpers shared by the kinds -------------------------------------------------------


def pick(values: Sequence[Any], indexes: list[int]) -> list[Any]:
    return [values[i] for i in indexes]


def received_at(received: Received, kept: list[int]) -> pa.Array:
    """The JetStream timestamps of the kept messages, as UTC microseconds."""
    micros = [received.received_ns[i] // 1000 for i in kept]
    return pa.array(micros, pa.int64()).cast(UTC_MICROS)


def stream_seqs(received: Received, kept: list[int]) -> pa.Array:
    return pa.array(pick(received.seqs, kept), pa.int64())


def string_lists(lists: list[list[str]]) -> pa.Array:
    """A list<string> column from flat values and offsets, not list by list."""
    offsets = pa.array([0, *itertools.accumulate(map(len, lists))], pa.int32())
    flat = pa.array(list(itertools.chain.from_iterable(lists)), pa.string())
    return pa.ListArray.from_arrays(offsets, flat)
