"""Merging local Parquet files of one kind into one, without duplicates, in bounded memory.

    merge_files(kind, inputs, output) -> Merged

Two passes over the inputs, which are local files (``compactor`` downloads
them):

1. **Which rows to keep**: only the identifying columns (``ArchiveKind.dedup_keys``) and
   the receive order are read, for every input; sorted by identity then receive order, the
   first row of each identity is kept (the first received copy, as the views keep it).
   Memory: about 125 bytes a row of the group at peak for reports (a group is at most
   ``target_bytes`` of Parquet: some 5 M reports, 600 MB, at the default 128 MiB).
2. **Rows out**: each input is streamed row group by row group, the dropped rows filtered out,
   and written through one ``pq.ParquetWriter`` in row groups of about
   ``parquet.ROW_GROUP_ROWS`` rows, each sorted like an archiver's object (time first).
   Memory: about two row groups, whatever the size of the inputs.

The output has the kind's schema and the archiver's encodings (``parquet.parquet_options``).
Both passes read the inputs in the same order, so the keep mask of pass 1 lines up with pass 2.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from peaceland.archive.kinds import FIRST_RECEIVED, ArchiveKind
from peaceland.archive.parquet import ROW_GROUP_ROWS, parquet_options


@dataclasses.dataclass(frozen=True, slots=True)
class Merged:
    """What ``merge_files`` wrote: rows in and out, and the stream sequences it holds."""

    rows_in: int
    rows_out: int
    first_seq: int
    last_seq: int

    @property
    def dropped(self) -> int:
        return self.rows_in - self.rows_out


def keep_mask(kind: ArchiveKind, inputs: Sequence[Path]) -> tuple[int, pa.BooleanArray | None]:
    """(rows, mask of the rows to keep over all inputs in order); ``None`` keeps them all.

    Sorts by (identity, receive order) and keeps the first row of each run: no hash table
    (Arrow's cost some 130 bytes a string row), only the columns and two index arrays.
    """
    keys = kind.dedup_keys
    columns = list(dict.fromkeys((*keys, *FIRST_RECEIVED)))
    tables = [pq.read_table(path, columns=columns) for path in inputs]
    table = pa.concat_tables(tables) if tables else kind.schema.empty_table().select(columns)
    del tables
    rows = table.num_rows
    if rows < 2:
        return rows, None
    order = pc.sort_indices(table, sort_keys=[(c, "ascending") for c in columns])

    def differs(key: str) -> pa.BooleanArray:
        """Row i + 1 (in sorted order) differs from row i in column ``key``."""
        ordered = table[key].take(order).combine_chunks()
        return pc.not_equal(ordered.slice(1), ordered.slice(0, rows - 1))

    changed = differs(keys[0])
    for key in keys[1:]:
        changed = pc.or_(changed, differs(key))
    if pc.all(changed).as_py():
        return rows, None
    first = pa.concat_arrays([pa.array([True]), changed])
    return rows, first.take(pc.sort_indices(order))  # back to input order


def merge_files(kind: ArchiveKind, inputs: Sequence[Path], output: Path) -> Merged:
    """Write the rows of ``inputs`` to ``output`` once each; raises ``ValueError`` when an
    input does not have the kind's columns, or when nothing would be written."""
    rows_in, mask = keep_mask(kind, inputs)
    rows_out = 0
    first_seq: int | None = None
    last_seq: int | None = None
    with pq.ParquetWriter(
        output, kind.schema, **parquet_options(kind.schema, kind.delta_columns)
    ) as w:
        for chunk in _row_groups(kind, inputs, mask):
            seqs = pc.min_max(chunk["stream_seq"])
            low, high = seqs["min"].as_py(), seqs["max"].as_py()
            first_seq = low if first_seq is None else min(first_seq, low)
            last_seq = high if last_seq is None else max(last_seq, high)
            w.write_table(chunk, row_group_size=chunk.num_rows)
            rows_out += chunk.num_rows
    if first_seq is None or last_seq is None:
        raise ValueError("nothing to merge")
    written = pq.read_metadata(output).num_rows
    if written != rows_out:  # pragma: no cover - a pyarrow bug, not ours
        raise ValueError(f"{output}: {written} rows written, {rows_out} expected")
    return Merged(rows_in, rows_out, first_seq, last_seq)


def _row_groups(
    kind: ArchiveKind, inputs: Sequence[Path], mask: pa.BooleanArray | None
) -> Iterator[pa.Table]:
    """The kept rows, in sorted chunks of at least ``ROW_GROUP_ROWS`` rows (the last fewer)."""
    schema = kind.schema
    sort_keys = [(k, "ascending") for k in kind.sort_keys]
    held: list[pa.RecordBatch] = []
    held_rows = offset = 0
    for path in inputs:
        parquet = pq.ParquetFile(path)
        missing = set(schema.names) - set(parquet.schema_arrow.names)
        if missing:
            raise ValueError(f"{path.name}: no column {', '.join(sorted(missing))}")
        for batch in parquet.iter_batches(batch_size=ROW_GROUP_ROWS, columns=schema.names):
            rows = batch.num_rows
            if mask is not None:
                batch = batch.filter(mask.slice(offset, rows))
            offset += rows
            held.append(batch.cast(schema))
            held_rows += batch.num_rows
            if held_rows >= ROW_GROUP_ROWS:
                yield _sorted(held, schema, sort_keys)
                held, held_rows = [], 0
    if held_rows:
        yield _sorted(held, schema, sort_keys)


def _sorted(
    batches: list[pa.RecordBatch], schema: pa.Schema, sort_keys: list[tuple[str, str]]
) -> pa.Table:
    table = pa.Table.from_batches(batches, schema=schema)
    return table.take(pc.sort_indices(table, sort_keys=sort_keys))
