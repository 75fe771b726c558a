"""Batching: flush by rows, bytes or age (fake clock), and one deterministic object per
partition."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from peaceland.archive import FlushPolicy
from peaceland.archive.batching import Batch, plan_objects
from peaceland.archive.kinds import DEADLETTER_KIND, REPORTS_KIND
from peaceland.archive.layout import batch_digest, parse_object_key
from peaceland.archive.parquet import decode_parquet
from peaceland.archive.rows import Received

T0 = datetime(2026, 11, 28, 9, 58, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reports_batch(minutes: list[int], first_seq: int = 1) -> pa.RecordBatch:
    """One report per minute offset from T0, drone pw-0001, seq from ``first_seq``."""
    got = Received()
    for index, minute in enumerate(minutes):
        ts = (T0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")
        body = {
            "drone_id": "pw-0001",
            "ts": ts,
            "lat": 1.0,
            "lon": 2.0,
            "citizens": [],
            "words": [],
        }
        seq = first_seq + index
        got.append(
            json.dumps(body).encode(), seq, seq * 1_000_000, "peaceland.reports.pw-0001", None
        )
    built = REPORTS_KIND.build(got)
    assert not built.rejected
    return built.batch


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        FlushPolicy(max_rows=0)
    with pytest.raises(ValueError, match="positive"):
        FlushPolicy(max_age_s=0)


def test_due_by_rows_bytes_or_age() -> None:
    clock = FakeClock()
    batch: Batch[str] = Batch(REPORTS_KIND.schema, FlushPolicy(3, 1000, 10.0), clock)
    assert batch.due() is None
    assert batch.seconds_left() == float("inf")
    batch.add(reports_batch([0, 1]), ["a", "b"], 200)
    assert batch.due() is None
    assert batch.room() == (1, 800)
    clock.now += 4
    assert batch.seconds_left() == 6.0
    batch.add(reports_batch([2], 3), ["c"], 100)
    assert batch.due() == "rows"
    sealed = batch.seal("rows")
    assert sealed.table.num_rows == 3
    assert sealed.handles == ["a", "b", "c"]
    assert sealed.payload_bytes == 300
    assert batch.rows == 0
    assert batch.due() is None
    assert batch.handles == []

    batch.add(reports_batch([0]), ["d"], 1000)
    assert batch.due() == "bytes"
    batch.seal("bytes")
    batch.add(reports_batch([0]), ["e"], 1)
    clock.now += 9.9
    assert batch.due() is None
    clock.now += 0.1
    assert batch.due() == "age"  # the age counts from the first message held


def test_rows_and_handles_must_match() -> None:
    batch: Batch[str] = Batch(REPORTS_KIND.schema, FlushPolicy(), FakeClock())
    with pytest.raises(ValueError, match="2 rows but 1 handles"):
        batch.add(reports_batch([0, 1]), ["a"], 1)
    batch.add(reports_batch([]), [], 0)  # nothing: the batch stays closed
    assert batch.opened_at is None


def test_one_object_per_event_hour_rows_sorted_by_time() -> None:
    # 09:58, 10:01, 09:59, 12:30 (late and early reports mixed in one batch)
    table = pa.Table.from_batches([reports_batch([3, 0, 1, 152])])
    planned = plan_objects(REPORTS_KIND, table, "p/")
    assert [p.key.split("/seq-")[0] for p in planned] == [
        "p/reports/date=2026-11-28/hour=09",
        "p/reports/date=2026-11-28/hour=10",
        "p/reports/date=2026-11-28/hour=12",
    ]
    first = planned[0]
    assert first.table.column("stream_seq").to_pylist() == [2, 3]  # 09:58 then 09:59
    name = parse_object_key(first.key, "p/")
    assert name is not None
    assert (name.first_seq, name.last_seq, name.rows) == (2, 3, 2)
    assert sum(p.table.num_rows for p in planned) == 4


def test_names_depend_on_the_set_of_messages_not_their_order() -> None:
    minutes = [random.Random(1).randrange(0, 180) for _ in range(200)]
    table = pa.Table.from_batches([reports_batch(minutes)])
    shuffled = table.take(random.Random(2).sample(range(200), 200))
    planned = plan_objects(REPORTS_KIND, table)
    again = plan_objects(REPORTS_KIND, shuffled)
    assert [p.key for p in planned] == [p.key for p in again]
    for one, other in zip(planned, again, strict=True):
        assert one.table.equals(other.table)
        assert REPORTS_KIND.to_parquet(one.table) == REPORTS_KIND.to_parquet(other.table)
        # The Arrow digest is the reference digest of the layout.
        seqs = one.table.column("stream_seq").to_pylist()
        micros = one.table.column("received_at").cast(pa.int64()).to_pylist()
        assert one.key.endswith(f"-{batch_digest(seqs, micros)}.parquet")
    # One message less: its partition gets another name, the others keep theirs.
    before = {p.key: p.table for p in planned}
    after = {p.key: p.table for p in plan_objects(REPORTS_KIND, table.slice(1))}
    assert len(set(before) - set(after)) == 1
    assert len(set(after) - set(before)) <= 1
    for key in set(before) & set(after):
        assert before[key].equals(after[key])


def test_dead_letters_are_partitioned_by_day_of_reception() -> None:
    got = Received()
    day_ns = 86_400 * 10**9
    got.append(b"x", 1, 20_000 * day_ns + 5, "peaceland.deadletter.gateway", "bad")
    got.append(b"y", 2, 20_001 * day_ns - 1, "peaceland.deadletter.gateway", "bad")
    got.append(b"z", 3, 20_001 * day_ns, "peaceland.deadletter.mqtt", "bad")
    table = pa.Table.from_batches([DEADLETTER_KIND.build(got).batch])
    planned = plan_objects(DEADLETTER_KIND, table)
    assert [p.key.split("/seq-")[0] for p in planned] == [
        "deadletter/date=2024-10-04",
        "deadletter/date=2024-10-05",
    ]
    assert decode_parquet(DEADLETTER_KIND.to_parquet(planned[0].table)).num_rows == 2


def test_nothing_to_plan_for_an_empty_table() -> None:
    assert plan_objects(REPORTS_KIND, REPORTS_KIND.schema.empty_table()) == []
