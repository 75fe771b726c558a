"""Splitting a partition too large for one merge into parts by ranges of its dedup key. Pure.

    merge_parts(kind, inputs, workdir, parts) -> list[Part]

A closed partition is rewritten as one set of objects (``compaction.plan``). When it holds
more than ``target_bytes``, one merge would need memory for all of it, so its rows are first
split into ``parts`` local files by ranges of the kind's first dedup key (``report_id`` for
reports): every copy of a row falls into the same part, so deduplicating each part alone
(``merge.merge_files``) deduplicates the whole partition, and the parts never share a row.

1. **Cut points**: a deterministic sample of the first dedup key (every k-th value, in input
   order), sorted; the ``parts - 1`` quantiles. The same inputs give the same cuts, so a retry
   writes the same parts.
2. **Split**: each input streamed batch by batch, each row written to the local file of its
   range (LZ4, no dictionary: a scratch file read once).
3. **Merge**: each part deduplicated and sorted on its own, one at a time.

Memory: the sample, a batch, then what ``merge_files`` needs for one part (about
``target_bytes`` of Parquet). Disk: the inputs, the split files and the outputs, about three
times the partition.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from peaceland.archive.compaction.merge import Merged, merge_files
from peaceland.archive.kinds import ArchiveKind
from peaceland.archive.parquet import ROW_GROUP_ROWS

#: Sampled values per part for the cut points: enough for parts within a few % of even.
SAMPLE_PER_PART: Final = 4096


@dataclasses.dataclass(frozen=True, slots=True)
class Part:
    """One merged output: its local file and what it holds."""

    path: Path
    merged: Merged


def merge_parts(kind: ArchiveKind, inputs: Sequence[Path], workdir: Path, parts: int) -> list[Part]:
    """The rows of ``inputs``, each once, in at most ``parts`` files of ``workdir`` that share
    no row (fewer when the key has fewer distinct ranges); raises ``ValueError`` as
    ``merge_files`` does."""
    if parts < 1:
        raise ValueError(f"parts must be at least 1, got {parts}")
    if parts == 1:
        out = workdir / "out-1.parquet"
        return [Part(out, merge_files(kind, inputs, out))]
    cuts = cut_points(kind, inputs, parts)
    merged: list[Part] = []
    for index, split in enumerate(split_by_key(kind, inputs, cuts, workdir), start=1):
        out = workdir / f"out-{index}.parquet"
        merged.append(Part(out, merge_files(kind, [split], out)))
        split.unlink()
    return merged


def cut_points(kind: ArchiveKind, inputs: Sequence[Path], parts: int) -> pa.Array:
    """At most ``parts - 1`` distinct, ascending values of the first dedup key splitting the
    rows of ``inputs`` into ranges of about equal size."""
    key = kind.dedup_keys[0]
    total = sum(pq.read_metadata(path).num_rows for path in inputs)
    step = max(1, total // (SAMPLE_PER_PART * parts))
    samples: list[pa.Array] = []
    offset = 0  # position in the whole input, so the sample does not depend on batch sizes
    for path in inputs:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=ROW_GROUP_ROWS, columns=[key]):
            first = (-offset) % step
            if first < batch.num_rows:
                samples.append(batch.column(0).take(pa.array(range(first, batch.num_rows, step))))
            offset += batch.num_rows
    sample = pa.concat_arrays(samples).drop_null() if samples else None
    if sample is None or len(sample) == 0:
        return pa.array([], type=kind.schema.field(key).type)
    ordered = sample.take(pc.sort_indices(sample))
    picks = ordered.take(pa.array([len(ordered) * j // parts for j in range(1, parts)]))
    return pc.unique(picks)


def split_by_key(
    kind: ArchiveKind, inputs: Sequence[Path], cuts: pa.Array, workdir: Path
) -> list[Path]:
    """The rows of ``inputs`` written to one file per key range (below the first cut, ...,
    from the last cut on; null keys with the first); only the non-empty files, in range
    order."""
    schema = kind.schema
    key = kind.dedup_keys[0]
    paths = [workdir / f"split-{i + 1}.parquet" for i in range(len(cuts) + 1)]
    writers: dict[int, pq.ParquetWriter] = {}
    try:
        for path in inputs:
            parquet = pq.ParquetFile(path)
            for batch in parquet.iter_batches(batch_size=ROW_GROUP_ROWS, columns=schema.names):
                table = pa.Table.from_batches([batch]).cast(schema)
                ranges = range_of(table[key], cuts)
                for index in pc.unique(ranges).to_pylist():
                    rows = table.filter(pc.equal(ranges, index))
                    if index not in writers:
                        writers[index] = pq.ParquetWriter(
                            paths[index], schema, compression="lz4", use_dictionary=False
                        )
                    writers[index].write_table(rows)
    finally:
        for writer in writers.values():
            writer.close()
    return [paths[i] for i in sorted(writers)]


def range_of(keys: pa.ChunkedArray, cuts: pa.Array) -> pa.Array:
    """For each key, how many cut points are at or below it: the index of its range."""
    index: pa.Array = pa.repeat(pa.scalar(0, pa.int32()), len(keys))
    for cut in cuts:
        above = pc.fill_null(pc.greater_equal(keys, cut), False).combine_chunks()
        index = pc.add(index, pc.cast(above, pa.int32()))
    return index
