"""Splitting a large partition into parts by key range (local files only): parts share no
row, every copy of a report meets its first received copy, the same inputs give the same
parts."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from peaceland.archive import REPORTS_KIND
from peaceland.archive.compaction.split import merge_parts

T0 = 1_795_000_000_000_000


def row(n: int, seq: int) -> dict[str, Any]:
    return {
        "report_id": f"r{n:05d}",
        "drone_id": "pw-1",
        "ts": T0 + n,
        "lat": 1.0,
        "lon": 2.0,
        "citizens": [],
        "words": [],
        "extra": None,
        "received_at": T0 + seq,
        "stream_seq": seq,
    }


def inputs(folder: Path) -> list[Path]:
    """3 objects of 1,000 reports; 300 reports redelivered later in the last one."""
    batches = [
        [row(n, n + 1) for n in range(0, 1000)],
        [row(n, n + 1) for n in range(1000, 2000)],
        [row(n, 5000 + n) for n in range(700, 1000)] + [row(n, n + 1) for n in range(2000, 2700)],
    ]
    paths = []
    for i, rows in enumerate(batches):
        path = folder / f"in-{i}.parquet"
        pq.write_table(pa.Table.from_pylist(rows, schema=REPORTS_KIND.schema), path)
        paths.append(path)
    return paths


@pytest.mark.parametrize("parts", [1, 4])
def test_parts_hold_each_report_once_and_share_none(tmp_path: Path, parts: int) -> None:
    got = merge_parts(REPORTS_KIND, inputs(tmp_path), tmp_path, parts)
    assert len(got) == parts
    tables = [pq.read_table(p.path) for p in got]
    ids = [i for t in tables for i in t["report_id"].to_pylist()]
    assert sorted(ids) == [f"r{n:05d}" for n in range(2700)]  # once each, none lost
    kept = {r["report_id"]: r["stream_seq"] for t in tables for r in t.to_pylist()}
    assert all(kept[f"r{n:05d}"] == n + 1 for n in range(700, 1000))  # the first received
    assert sum(p.merged.rows_in for p in got) == 3000
    assert sum(p.merged.rows_out for p in got) == 2700
    if parts > 1:
        sizes = [t.num_rows for t in tables]
        assert min(sizes) > 2700 / parts / 2  # about even
        ranges = [
            (min(t["report_id"].to_pylist()), max(t["report_id"].to_pylist())) for t in tables
        ]
        assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges))


def test_the_same_inputs_give_the_same_parts(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    one = merge_parts(REPORTS_KIND, inputs(first), first, 3)
    two = merge_parts(REPORTS_KIND, inputs(second), second, 3)
    assert [pq.read_table(p.path) for p in one] == [pq.read_table(p.path) for p in two]
    assert [p.merged for p in one] == [p.merged for p in two]


def test_fewer_distinct_keys_than_parts_give_fewer_parts(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    rows = [row(1, seq) for seq in range(1, 50)]
    pq.write_table(pa.Table.from_pylist(rows, schema=REPORTS_KIND.schema), path)
    [only] = merge_parts(REPORTS_KIND, [path], tmp_path, 5)
    assert only.merged.rows_out == 1
    with pytest.raises(ValueError, match="at least 1"):
        merge_parts(REPORTS_KIND, [path], tmp_path, 0)
