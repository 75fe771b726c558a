"""How an archived object is encoded: Parquet, zstd, with statistics. Pure.

    encode_parquet(table, delta_columns) -> bytes / decode_parquet(data) -> Table
    parquet_options(schema, delta_columns)   the writer options (the compactor's writer too)

The knobs were chosen on the archive benchmark (``benchmarks/archive_throughput.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

ZSTD_LEVEL: Final = 3
ROW_GROUP_ROWS: Final = 128 * 1024


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
