"""Compaction planning (pure): closed hours, packing, manifests, naming; the clock passed in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import msgspec
import pytest

from peaceland.archive import CompactionPolicy
from peaceland.archive.compaction.plan import (
    Group,
    Manifest,
    data_prefix,
    decode_manifest,
    encode_manifest,
    is_closed,
    manifest_key,
    manifest_prefix,
    plan_compaction,
)
from peaceland.archive.layout import Partition, object_key, parse_object_key
from peaceland.config import load_settings
from peaceland.contract import ConfigError
from peaceland.storage import StoredObject

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
DAY = date(2026, 11, 28)
POLICY = CompactionPolicy(target_bytes=1000, grace_s=7200, delete_after_s=600)
H8 = Partition("reports", DAY, 8)


def seq_obj(part: Partition, first: int, size: int = 100, prefix: str = "") -> StoredObject:
    key = object_key(part, first, first + 9, 10, f"{first:012x}", prefix)
    return StoredObject(key, size, NOW)


def compact_obj(part: Partition, first: int, size: int, prefix: str = "") -> StoredObject:
    key = object_key(part, first, first + 99, 100, f"{first:012x}", prefix, origin="compact")
    return StoredObject(key, size, NOW)


def manifest(output: str, inputs: list[str], age_s: float) -> Manifest:
    return Manifest(
        kind="reports",
        output=output,
        inputs=inputs,
        compacted_at=NOW - timedelta(seconds=age_s),
        rows_in=1,
        rows_out=1,
    )


def test_an_hour_is_closed_grace_after_its_end() -> None:
    grace = 7200
    assert is_closed(H8, datetime(2026, 11, 28, 11, 0, tzinfo=UTC), grace)
    assert not is_closed(H8, datetime(2026, 11, 28, 10, 59, 59, tzinfo=UTC), grace)
    dead = Partition("deadletter", DAY)
    assert not is_closed(dead, datetime(2026, 11, 29, 1, 59, tzinfo=UTC), grace)
    assert is_closed(dead, datetime(2026, 11, 29, 2, 0, tzinfo=UTC), grace)
    tokyo = NOW.astimezone(timezone(timedelta(hours=9)))  # any zone: the instant counts
    assert is_closed(H8, tokyo, grace)


def test_small_objects_of_closed_hours_are_merged_open_hours_left_alone() -> None:
    h10 = Partition("reports", DAY, 10)  # closes at 13:00
    listing = [seq_obj(H8, s) for s in (1, 11, 21)] + [seq_obj(h10, s) for s in (31, 41)]
    plan = plan_compaction("reports", listing, {}, NOW, POLICY)
    assert [g.partition for g in plan.groups] == [H8]
    assert [o.key for o in plan.groups[0].inputs] == [o.key for o in listing[:3]]
    assert (plan.closed_partitions, plan.open_partitions) == (1, 1)
    assert plan.bytes == 300
    assert not plan.retirements


def test_a_closed_partition_is_one_group_split_in_parts_of_the_target() -> None:
    sizes = [400, 400, 300, 900, 50]  # 2,050 bytes: three parts of at most 1,000
    listing = [seq_obj(H8, 10 * i + 1, size) for i, size in enumerate(sizes)]
    [group] = plan_compaction("reports", listing, {}, NOW, POLICY).groups
    assert (group.keys, group.parts) == ([o.key for o in listing], 3)
    # a lone archiver's object is rewritten too: only a compacted set is known duplicate-free
    [lone] = plan_compaction("reports", [seq_obj(H8, 1, 2000)], {}, NOW, POLICY).groups
    assert lone.parts == 2


def test_late_reports_rewrite_the_hour_with_its_set_a_clean_hour_is_left_alone() -> None:
    set_parts = [
        StoredObject(object_key(H8, i, i, 1, "ab", origin="compact", part=(i, 2)), 600, NOW)
        for i in (1, 2)
    ]
    clean = plan_compaction("reports", set_parts, {}, NOW, POLICY)
    assert (clean.groups, clean.clean_partitions) == ([], 1)
    late = seq_obj(H8, 900, 10)
    [group] = plan_compaction("reports", [*set_parts, late], {}, NOW, POLICY).groups
    assert (sorted(group.keys), group.parts) == (sorted([*[o.key for o in set_parts], late.key]), 2)
    # a part missing (a crash while writing a set): the rest is merged again
    [partial] = plan_compaction("reports", set_parts[:1], {}, NOW, POLICY).groups
    assert partial.keys == [set_parts[0].key]
    # two compacted objects of different merges (two compactors, or an older archive)
    two = [compact_obj(H8, 1, 700), compact_obj(H8, 200, 300)]
    assert [g.keys for g in plan_compaction("reports", two, {}, NOW, POLICY).groups] == [
        [o.key for o in two]
    ]


def test_a_partition_waits_while_a_merge_of_it_awaits_retirement() -> None:
    inputs = [seq_obj(H8, s) for s in (1, 11)]
    output = compact_obj(H8, 1, 150)
    done = {"m": manifest(output.key, [o.key for o in inputs], age_s=60)}
    plan = plan_compaction("reports", [*inputs, output], done, NOW, POLICY)
    assert plan.empty
    assert (plan.pending, plan.pending_inputs) == (1, 2)
    # late objects wait too: the next rewrite takes them with the set, once it is clean
    late = seq_obj(H8, 500)
    plan = plan_compaction("reports", [*inputs, output, late], done, NOW, POLICY)
    assert plan.groups == []
    plan = plan_compaction("reports", [output, late], {}, NOW, POLICY)
    assert [g.keys for g in plan.groups] == [[output.key, late.key]]


def test_manifests_are_due_after_the_delay_and_only_with_their_output() -> None:
    inputs = [seq_obj(H8, s) for s in (1, 11)]
    output = compact_obj(H8, 1, 150)
    manifests = {
        "due": manifest(output.key, [o.key for o in inputs], age_s=600),
        "lost": manifest(compact_obj(H8, 5, 1).key, ["x"], age_s=601),
        "young": manifest("y", ["z"], age_s=599),
    }
    plan = plan_compaction("reports", [*inputs, output], manifests, NOW, POLICY)
    assert [(r.key, r.ready) for r in plan.retirements] == [("due", True), ("lost", False)]
    assert plan.pending == 1
    assert plan.groups == []  # the inputs are retired


def test_a_manifest_of_several_parts_is_ready_only_with_all_of_them() -> None:
    parts = [
        StoredObject(object_key(H8, i, i, 1, "ab", origin="compact", part=(i, 2)), 9, NOW)
        for i in (1, 2)
    ]
    inputs = [seq_obj(H8, s) for s in (1, 11)]
    split = Manifest(
        kind="reports",
        output=parts[0].key,
        outputs=[o.key for o in parts],
        inputs=[o.key for o in inputs],
        compacted_at=NOW - timedelta(seconds=600),
        rows_in=2,
        rows_out=2,
    )
    assert decode_manifest(encode_manifest(split)).all_outputs == [o.key for o in parts]
    whole = plan_compaction("reports", [*inputs, *parts], {"m": split}, NOW, POLICY)
    assert [r.ready for r in whole.retirements] == [True]
    short = plan_compaction("reports", [*inputs, parts[0]], {"m": split}, NOW, POLICY)
    assert [r.ready for r in short.retirements] == [False]
    # a manifest written before sets had parts names its one output
    assert manifest("o", ["a"], 5).all_outputs == ["o"]


def test_foreign_objects_other_kinds_and_other_days_are_never_touched() -> None:
    other_day = Partition("reports", date(2026, 11, 27), 8)
    listing = [
        StoredObject("reports/date=2026-11-28/hour=08/mine.parquet", 1, NOW),
        StoredObject("reports/date=2026-11-28/hour=08/compacted.parquet", 1, NOW),
        seq_obj(H8, 1),
        seq_obj(H8, 11),
        seq_obj(other_day, 21),
        seq_obj(other_day, 31),
        seq_obj(Partition("alerts", DAY, 8), 41),
        seq_obj(Partition("alerts", DAY, 8), 51),
    ]
    plan = plan_compaction("reports", listing, {}, NOW, POLICY, day=DAY)
    assert [g.keys for g in plan.groups] == [[listing[2].key, listing[3].key]]
    every_day = plan_compaction("reports", listing, {}, NOW, POLICY)
    assert [g.partition for g in every_day.groups] == [other_day, H8]


def test_key_prefix_is_honoured() -> None:
    listing = [seq_obj(H8, 1, prefix="t/"), seq_obj(H8, 11, prefix="t/")]
    assert plan_compaction("reports", listing, {}, NOW, POLICY).groups == []
    [group] = plan_compaction("reports", listing, {}, NOW, POLICY, key_prefix="t/").groups
    key = group.output_key(1, 20, 20, "t/")
    assert key.startswith("t/reports/date=2026-11-28/hour=08/compact-000000000001-")
    assert manifest_key(key, "t/") == (
        "t/_compaction/" + key.removeprefix("t/").removesuffix(".parquet") + ".json"
    )
    assert manifest_key(key, "t/").startswith(manifest_prefix("reports", "t/", DAY))
    assert data_prefix("alerts", "t/", DAY) == "t/alerts/date=2026-11-28/"
    with pytest.raises(ValueError, match="not an object key"):
        manifest_key(key, "u/")


def test_output_names_are_deterministic_and_parse_as_compacted() -> None:
    a, b = seq_obj(H8, 1), seq_obj(H8, 11)
    one, other = Group(H8, (a, b)), Group(H8, (b, a))
    assert one.digest() == other.digest()
    assert one.digest() != Group(H8, (a, seq_obj(H8, 21))).digest()
    # the digest ignores the prefix: an archive moved under another prefix keeps its names
    moved = Group(H8, (seq_obj(H8, 1, prefix="p/"), seq_obj(H8, 11, prefix="p/")))
    assert moved.digest("p/") == one.digest()
    key = one.output_key(1, 20, 19)
    name = parse_object_key(key)
    assert name is not None
    assert (name.compacted, name.first_seq, name.last_seq, name.rows) == (True, 1, 20, 19)
    plain = parse_object_key(a.key)
    assert plain is not None
    assert not plain.compacted


def test_manifests_round_trip_and_reject_garbage() -> None:
    m = manifest("o", ["a", "b"], 5)
    assert decode_manifest(encode_manifest(m)) == m
    with pytest.raises(msgspec.DecodeError):
        decode_manifest(b"{}")


def test_policy_is_checked() -> None:
    with pytest.raises(ValueError, match="positive"):
        CompactionPolicy(target_bytes=0)
    with pytest.raises(ValueError, match="positive"):
        CompactionPolicy(grace_s=-1)


def test_settings_come_from_the_environment(tmp_path: Path) -> None:
    env = {
        "PEACELAND_COMPACT_TARGET_BYTES": "1000",
        "PEACELAND_COMPACT_GRACE": "0",
        "PEACELAND_COMPACT_DELETE_AFTER": "60.5",
    }
    settings = load_settings(environ=env, cwd=tmp_path)
    assert (
        settings.compact_target_bytes,
        settings.compact_grace_s,
        settings.compact_delete_after_s,
    ) == (1000, 0.0, 60.5)
    defaults = load_settings(environ={}, cwd=tmp_path)
    assert CompactionPolicy() == CompactionPolicy(
        defaults.compact_target_bytes, defaults.compact_grace_s, defaults.compact_delete_after_s
    )
    for var, bad in (
        ("PEACELAND_COMPACT_TARGET_BYTES", "0"),
        ("PEACELAND_COMPACT_GRACE", "-1"),
        ("PEACELAND_COMPACT_DELETE_AFTER", "soon"),
    ):
        with pytest.raises(ConfigError, match=var):
            load_settings(environ={var: bad}, cwd=tmp_path)
