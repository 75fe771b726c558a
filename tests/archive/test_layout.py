"""Archive layout: partitions, deterministic object names, and parsing them back."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peaceland.archive.layout import (
    Partition,
    batch_digest,
    kind_prefix,
    object_key,
    parse_object_key,
)


def test_partitions_follow_the_contract_layout() -> None:
    when = datetime(2026, 11, 28, 9, 59, 59, tzinfo=UTC)
    assert Partition.at("reports", when).path() == "reports/date=2026-11-28/hour=09/"
    assert Partition.at("alerts", when).path("t1/") == "t1/alerts/date=2026-11-28/hour=09/"
    assert Partition.at("deadletter", when).path() == "deadletter/date=2026-11-28/"


def test_partition_time_is_utc() -> None:
    paris = timezone(timedelta(hours=1))
    when = datetime(2026, 11, 28, 0, 30, tzinfo=paris)  # 2026-11-27 23:30 UTC
    assert Partition.at("reports", when) == Partition("reports", date(2026, 11, 27), 23)
    with pytest.raises(ValueError, match="timezone-aware"):
        Partition.at("reports", datetime(2026, 11, 28))  # naive on purpose


def test_partition_from_micros_handles_times_before_1970() -> None:
    assert Partition.of_micros("reports", -1) == Partition("reports", date(1969, 12, 31), 23)
    assert Partition.of_micros("reports", 0).start == datetime(1970, 1, 1, tzinfo=UTC)


def test_partition_granularity_is_checked() -> None:
    with pytest.raises(ValueError, match="by hour"):
        Partition("reports", date(2026, 1, 1))
    with pytest.raises(ValueError, match="by day"):
        Partition("deadletter", date(2026, 1, 1), 3)
    with pytest.raises(ValueError, match=r"0\.\.23"):
        Partition("alerts", date(2026, 1, 1), 24)


def test_object_key_names_sequences_rows_and_digest() -> None:
    part = Partition("reports", date(2026, 11, 28), 10)
    key = object_key(part, 7, 123, 42, "abcdef012345")
    assert key == (
        "reports/date=2026-11-28/hour=10/seq-000000000007-000000000123-n42-abcdef012345.parquet"
    )
    parsed = parse_object_key(key)
    assert parsed is not None
    assert (parsed.partition, parsed.first_seq, parsed.last_seq, parsed.rows) == (part, 7, 123, 42)
    assert parsed.digest == "abcdef012345"


def test_parse_with_prefix_and_foreign_keys() -> None:
    part = Partition("deadletter", date(2026, 1, 2))
    key = object_key(part, 1, 1, 1, "00ff", key_prefix="tenant/")
    assert parse_object_key(key, "tenant/") is not None
    assert parse_object_key(key) is None  # wrong prefix
    for foreign in (
        "reports/date=2026-11-28/hour=10/compacted.parquet",
        "reports/date=2026-13-40/hour=10/seq-1-2-n2-ab.parquet",  # no such date
        "reports/date=2026-11-28/seq-1-2-n2-ab.parquet",  # reports need an hour
        "_peaceland/write-check",
    ):
        assert parse_object_key(foreign) is None, foreign
    assert kind_prefix("alerts", "p/") == "p/alerts/"


def test_digest_is_of_the_set_not_the_order() -> None:
    seqs = list(range(100, 200))
    times = [1_000_000 + s for s in seqs]
    pairs = list(zip(seqs, times, strict=True))
    random.Random(4).shuffle(pairs)
    shuffled_seqs, shuffled_times = zip(*pairs, strict=True)
    assert batch_digest(seqs, times) == batch_digest(shuffled_seqs, shuffled_times)
    assert batch_digest(seqs, times) != batch_digest(seqs[:-1], times[:-1])
    # The same sequence numbers from a recreated stream (other timestamps): another name.
    assert batch_digest(seqs, times) != batch_digest(seqs, [t + 1 for t in times])
    with pytest.raises(ValueError, match="one timestamp per sequence"):
        batch_digest([1, 2], [1])


@given(
    st.sets(st.integers(1, 2**40), min_size=1, max_size=30),
    st.sets(st.integers(1, 2**40), min_size=1, max_size=30),
)
def test_different_sets_never_share_a_name(first: set[int], second: set[int]) -> None:
    part = Partition("alerts", date(2026, 1, 1), 0)

    def key(seqs: set[int]) -> str:
        ordered = sorted(seqs)
        digest = batch_digest(ordered, ordered)
        return object_key(part, ordered[0], ordered[-1], len(ordered), digest)

    assert (key(first) == key(second)) == (first == second)
