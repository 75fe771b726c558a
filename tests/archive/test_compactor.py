"""Compaction runs against the in-memory store: exact rows, duplicates dropped, retirement
after the delay, dry runs, open hours, idempotence, crashes, and every reader interleaving."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from rich.console import Console

from peaceland.archive import CompactionPolicy, CompactOptions, KindResult, compact
from peaceland.archive.batching import plan_objects
from peaceland.archive.compaction import merge as archive_merge
from peaceland.archive.compaction.compactor import load_manifests
from peaceland.archive.compaction.plan import decode_manifest, manifest_prefix, readable
from peaceland.archive.kinds import ARCHIVE_KINDS, Kind
from peaceland.archive.layout import is_one_compacted_set, parse_object_key
from peaceland.archive.parquet import decode_parquet, encode_parquet
from peaceland.archive.rows import Received
from peaceland.cli.compaction_view import ProgressBar, progress_bar, results_json, results_table
from peaceland.contract import StoreError
from peaceland.testing import MemoryStore

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)  # hour 08 closes at 11:00 with 2 h of grace
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
POLICY = CompactionPolicy(target_bytes=10**8, grace_s=7200, delete_after_s=600)
RECEIVED_NS = 1_795_000_000_000_000_000


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def report(n: int, minute: int, drone: str = "pw-0001") -> bytes:
    ts = (T0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")
    body = {
        "drone_id": drone,
        "ts": ts,
        "lat": 48 + n / 1000,
        "lon": 2.0,
        "citizens": [{"name": f"c{n}", "peacescore": n % 101}],
        "words": ["calme"] * (n % 3),
        "report_id": f"r{n}",
    }
    return json.dumps(body).encode()


async def archive(
    store: MemoryStore, items: Sequence[tuple[int, int]], first_seq: int, kind: Kind = "reports"
) -> list[str]:
    """Write one archiver flush of reports ``(n, minute)`` (alerts: one per report) from
    stream sequence ``first_seq``; returns the keys."""
    got = Received()
    for offset, (n, minute) in enumerate(items):
        seq = first_seq + offset
        payload = report(n, minute) if kind == "reports" else alert(n, minute)
        got.append(payload, seq, RECEIVED_NS + seq * 1000, "peaceland.reports.pw-0001", None)
    fmt = ARCHIVE_KINDS[kind]
    built = fmt.build(got)
    assert not built.rejected
    keys = []
    for planned in plan_objects(fmt, pa.Table.from_batches([built.batch])):
        await store.put(planned.key, fmt.to_parquet(planned.table))
        keys.append(planned.key)
    return keys


def alert(n: int, minute: int) -> bytes:
    ts = (T0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")
    body = {
        "alert_id": f"r{n}/0",
        "report_id": f"r{n}",
        "drone_id": "pw-0001",
        "ts": ts,
        "lat": 48.0,
        "lon": 2.0,
        "citizen": f"c{n}",
        "peacescore": 3,
        "severity": "critical",
        "words": [],
        "raised_at": ts,
    }
    return json.dumps(body).encode()


def rows(store: MemoryStore, prefix: str = "reports/") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for key, data in sorted(store.objects.items()):
        if key.startswith(prefix):
            out.extend(decode_parquet(data).to_pylist())
    return out


def deduplicated(all_rows: list[dict[str, Any]], key: str = "report_id") -> dict[str, Any]:
    """What the views keep: the first received copy of each id."""
    kept: dict[str, Any] = {}
    for row in sorted(all_rows, key=lambda r: (r["received_at"], r["stream_seq"])):
        kept.setdefault(row[key], row)
    return kept


async def run(store: MemoryStore, clock: Clock, **options: Any) -> KindResult:
    settings: dict[str, Any] = {"policy": POLICY}
    settings.update(options)
    [result] = await compact(store, ["reports"], CompactOptions(**settings), now=clock)
    return result


async def test_compaction_keeps_each_report_once_then_deletes_the_inputs_later() -> None:
    store, clock = MemoryStore(), Clock()
    await archive(store, [(n, n % 60) for n in range(100)], first_seq=1)
    await archive(store, [(n, n % 60) for n in range(90, 150)], first_seq=101)  # 10 redelivered
    await archive(store, [(n, 10) for n in range(150, 160)], first_seq=161)
    before = deduplicated(rows(store))
    assert len(before) == 160

    first = await run(store, clock)
    assert (first.groups, first.objects_in, first.objects_out) == (1, 3, 1)
    assert (first.rows_in, first.rows_out, first.duplicates_dropped) == (170, 160, 10)
    [output] = first.outputs
    merged = decode_parquet(store.objects[output]).to_pylist()
    assert {r["report_id"]: r for r in merged} == before  # the first received copies, exactly
    assert [r["ts"] for r in merged] == sorted(r["ts"] for r in merged)
    name = parse_object_key(output)
    assert name is not None
    assert (name.compacted, name.rows, name.first_seq, name.last_seq) == (True, 160, 1, 170)
    assert len(store.objects) == 3 + 1 + 1  # inputs kept, the output, its manifest
    assert deduplicated(rows(store)) == before

    clock.advance(599)
    assert (await run(store, clock)).deleted == 0  # not yet
    clock.advance(1)
    second = await run(store, clock)
    assert (second.deleted, second.groups) == (3, 0)
    assert list(store.objects) == [output]
    clock.advance(3600)
    assert (await run(store, clock)).groups == 0
    assert list(store.objects) == [output]


async def test_a_run_right_after_another_changes_nothing() -> None:
    store, clock = MemoryStore(), Clock()
    for i in range(5):
        await archive(store, [(n, n % 60) for n in range(i * 20, i * 20 + 20)], 1 + i * 20)
    await run(store, clock)
    snapshot = dict(store.objects)
    puts = store.puts
    again = await run(store, clock)
    assert (again.groups, again.deleted, again.awaiting_deletion) == (0, 0, 5)
    assert store.objects == snapshot
    assert store.puts == puts


async def test_dry_run_changes_nothing_and_says_what_it_would_do() -> None:
    store, clock = MemoryStore(), Clock()
    await archive(store, [(n, n) for n in range(30)], 1)
    await archive(store, [(n, n) for n in range(30, 60)], 31)
    snapshot = dict(store.objects)
    dry = await run(store, clock, dry_run=True)
    assert (dry.dry_run, dry.groups, dry.objects_in, dry.objects_out) == (True, 1, 2, 0)
    assert store.objects == snapshot
    await run(store, clock)
    clock.advance(600)
    snapshot = dict(store.objects)
    dry = await run(store, clock, dry_run=True)
    assert (dry.deleted, dry.groups) == (2, 0)
    assert store.objects == snapshot


async def test_open_hours_are_not_touched() -> None:
    store, clock = MemoryStore(), Clock(datetime(2026, 11, 28, 10, 59, tzinfo=UTC))
    keys = await archive(store, [(n, n) for n in range(30)], 1)
    keys += await archive(store, [(n, n) for n in range(30, 60)], 31)
    result = await run(store, clock)
    assert (result.groups, result.open_partitions, result.closed_partitions) == (0, 1, 0)
    assert sorted(store.objects) == sorted(keys)
    clock.advance(60)  # 11:00: closed
    assert (await run(store, clock)).groups == 1


async def test_late_reports_are_merged_with_the_small_compacted_object() -> None:
    store, clock = MemoryStore(), Clock()
    await archive(store, [(n, n % 60) for n in range(40)], 1)
    await archive(store, [(n, n % 60) for n in range(40, 80)], 41)
    await run(store, clock)
    clock.advance(600)
    await run(store, clock)  # inputs deleted
    await archive(store, [(80, 5), (3, 3)], 500)  # a late report and a very late duplicate
    await archive(store, [(81, 6)], 600)
    late = await run(store, clock)
    assert (late.objects_in, late.rows_in, late.rows_out) == (3, 83, 82)
    clock.advance(600)
    await run(store, clock)
    assert [k for k in store.objects if not k.startswith("_")] == late.outputs
    assert len(deduplicated(rows(store))) == 82


async def test_a_crash_before_the_manifest_loses_nothing() -> None:
    class ManifestFails(MemoryStore):
        fail = True

        async def put(self, key: str, data: bytes) -> None:
            if key.startswith("_compaction/") and self.fail:
                raise StoreError("memory put: connection reset")
            await super().put(key, data)

    store, clock = ManifestFails(), Clock()
    await archive(store, [(n, n) for n in range(30)], 1)
    await archive(store, [(n, n) for n in range(30, 60)], 31)
    with pytest.raises(StoreError):
        await run(store, clock)
    assert len(store.objects) == 3  # the output, unrecorded
    store.fail = False
    retry = await run(store, clock)
    assert (retry.objects_in, retry.rows_in, retry.rows_out) == (3, 120, 60)
    clock.advance(600)
    await run(store, clock)
    assert list(store.objects) == retry.outputs
    assert len(rows(store)) == 60


async def test_a_missing_output_keeps_its_inputs() -> None:
    store, clock = MemoryStore(), Clock()
    inputs = await archive(store, [(n, n) for n in range(30)], 1)
    inputs += await archive(store, [(n, n) for n in range(30, 60)], 31)
    [output] = (await run(store, clock)).outputs
    await store.delete([output])  # lost by some other hand
    clock.advance(600)
    result = await run(store, clock)
    assert result.deleted == 0
    assert sorted(k for k in store.objects if not k.startswith("_")) == sorted(inputs)
    assert not await store.list(manifest_prefix("reports"))
    again = await run(store, clock)  # merged again
    assert again.rows_out == 60


@pytest.mark.parametrize("target_bytes", [20_000, 3_000], ids=["one part", "split in parts"])
async def test_readers_never_miss_nor_double_a_report_whenever_they_list_and_read(
    target_bytes: int,
) -> None:
    """Every state the bucket goes through. A reader that only globs: each listing holds every
    report so far. A reader like the views (a partition that is one compacted set read as it
    is, any other deduplicated): each report exactly once in every state. A reader that reads
    the manifests in one state, lists the data in a later one, and reads in a later one still,
    within the delete delay: everything it needs is still there, and it reads every report."""

    class Recording(MemoryStore):
        def __init__(self, clock: Clock) -> None:
            super().__init__()
            self.clock = clock
            self.states: list[tuple[datetime, dict[str, bytes]]] = []

        def record(self) -> None:
            self.states.append((self.clock(), dict(self.objects)))

        async def put(self, key: str, data: bytes) -> None:
            await super().put(key, data)
            self.record()

        async def delete(self, keys: Sequence[str]) -> None:
            for key in keys:  # one at a time: every intermediate state is seen
                await super().delete([key])
                self.record()

    clock = Clock()
    store = Recording(clock)
    policy = CompactionPolicy(target_bytes, 7200, 600)
    await archive(store, [(n, n % 60) for n in range(50)], 1)
    await archive(store, [(n, n % 60) for n in range(45, 100)], 51)
    await archive(store, [(n, 7) for n in range(100, 120)], 106)
    for late in range(3):
        await run(store, clock, policy=policy)
        clock.advance(300)
        await archive(store, [(200 + late, 30), (late, 1)], 1000 + 10 * late)
        await run(store, clock, policy=policy)
        clock.advance(301)
    await run(store, clock, policy=policy)
    clock.advance(600)
    await run(store, clock, policy=policy)  # the last merge retired: the hour is clean
    assert not set(store.states[0][1]) & set(store.objects)  # merged, then deleted

    decoded: dict[bytes, set[str]] = {}  # a key always names the same rows: decode once

    def ids_in(state: dict[str, bytes], keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for k in keys:
            if state[k] not in decoded:
                decoded[state[k]] = {r["report_id"] for r in decode_parquet(state[k]).to_pylist()}
            found |= decoded[state[k]]
        return found

    def data_keys(state: dict[str, bytes]) -> list[str]:
        return [k for k in state if k.startswith("reports/")]

    states = [(at, state, ids_in(state, data_keys(state))) for at, state in store.states]
    for (_, _, before), (_, _, after) in itertools.pairwise(states):
        assert after >= before  # the glob reader: no report ever leaves the listing
    clean_states = 0
    for at, state, known in states:
        viewed = view_ids(state, data_keys(state))
        assert sorted(viewed) == sorted(known), at  # the views: each report once
        names = [parse_object_key(k) for k in data_keys(state)]
        clean_states += is_one_compacted_set(names)
        if target_bytes < 10_000 and is_one_compacted_set(names):
            assert all(n is not None and n.parts > 1 for n in names)
    assert clean_states > 0
    assert states[-1][2] == {f"r{n}" for n in [*range(120), 200, 201, 202]}
    for i, (listed_at, manifest_state, known) in enumerate(states):
        manifests = [
            decode_manifest(data) for k, data in manifest_state.items() if k.startswith("_")
        ]
        for k, (_, data_state, _) in enumerate(states[i:], start=i):
            keys = readable(data_keys(data_state), manifests)
            assert ids_in(data_state, keys) >= known, (i, k)
            for read_at, read_state, _ in states[k:]:
                if read_at - listed_at >= timedelta(seconds=policy.delete_after_s):
                    break
                assert set(keys) <= set(read_state), (i, k)


def view_ids(state: dict[str, bytes], keys: Sequence[str]) -> list[str]:
    """The report ids the views read from ``keys``: as they are from a partition that is one
    compacted set, the first received copy of each from any other."""
    by_folder: dict[str, list[str]] = {}
    for key in keys:
        by_folder.setdefault(key.rsplit("/", 1)[0], []).append(key)
    ids: list[str] = []
    for members in by_folder.values():
        found = [r for k in members for r in decode_parquet(state[k]).to_pylist()]
        if is_one_compacted_set([parse_object_key(k) for k in members]):
            ids.extend(r["report_id"] for r in found)
        else:
            ids.extend(deduplicated(found))
    return ids


async def test_alerts_are_deduplicated_by_alert_id() -> None:
    store, clock = MemoryStore(), Clock()
    await archive(store, [(n, n) for n in range(20)], 1, kind="alerts")
    await archive(store, [(n, n) for n in range(10, 30)], 21, kind="alerts")
    [result] = await compact(store, ["alerts"], CompactOptions(policy=POLICY), now=clock)
    assert (result.rows_in, result.rows_out) == (40, 30)
    assert len({r["alert_id"] for r in rows(store, "alerts/")}) == 30


async def test_dead_letters_are_compacted_by_day(tmp_path: Path) -> None:
    store = MemoryStore()
    fmt = ARCHIVE_KINDS["deadletter"]
    for seqs in (range(1, 11), range(11, 21), range(6, 11)):  # 6..10 twice: redelivered
        got = Received()
        for seq in seqs:
            got.append(b"\xff", seq, RECEIVED_NS + seq, "peaceland.deadletter.x", "bad")
        for planned in plan_objects(fmt, pa.Table.from_batches([fmt.build(got).batch])):
            await store.put(planned.key, fmt.to_parquet(planned.table))
    day = datetime.fromtimestamp(RECEIVED_NS / 1e9, UTC).date()
    options = CompactOptions(policy=POLICY, day=day, workdir=tmp_path)
    clock = Clock(datetime(day.year, day.month, day.day, 1, tzinfo=UTC) + timedelta(days=1))
    [result] = await compact(store, ["deadletter"], options, now=clock)
    assert (result.groups, result.open_partitions) == (0, 1)  # closes at 02:00 the next day
    clock.advance(3600)
    [result] = await compact(store, ["deadletter"], options, now=clock)
    assert (result.groups, result.rows_in, result.rows_out) == (1, 25, 20)
    other = CompactOptions(policy=POLICY, day=date(2020, 1, 1))
    [result] = await compact(store, ["deadletter"], other, now=clock)
    assert result.closed_partitions == 0


async def test_merging_streams_in_row_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_merge, "ROW_GROUP_ROWS", 16)
    store, clock = MemoryStore(), Clock()
    await archive(store, [(n, n % 60) for n in range(70)], 1)
    await archive(store, [(n, n % 60) for n in range(35, 100)], 71)
    [output] = (await run(store, clock)).outputs
    merged = decode_parquet(store.objects[output])
    assert merged.num_rows == 100
    assert sorted(merged["report_id"].to_pylist()) == sorted(f"r{n}" for n in range(100))
    manifests = await store.list(manifest_prefix("reports"))
    manifest = decode_manifest(await store.get(manifests[0].key))
    assert (manifest.rows_in, manifest.rows_out, manifest.output) == (135, 100, output)


async def test_objects_that_are_not_the_kinds_are_left_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, clock = MemoryStore(), Clock()
    [key] = await archive(store, [(n, n) for n in range(10)], 1)
    alien = key.replace("seq-000000000001-", "seq-000000000900-")
    await store.put(alien, encode_parquet(pa.table({"x": [1, 2]})))
    snapshot = dict(store.objects)
    result = await run(store, clock)
    assert (result.groups, result.failed_groups, result.objects_out) == (1, 1, 0)
    assert store.objects == snapshot
    assert "2 objects not merged: " in caplog.text


def test_results_show_as_a_table_and_as_json() -> None:
    done = KindResult("reports", False, 3, 1, 2, 9, 2, 9000, 4000, 120, 100, 5, 9)
    dry = KindResult("alerts", True, 1, 0, 1, 2, 0, 10, 0)
    console = Console(record=True, width=200)
    console.print(results_table([done, dry]))
    text = console.export_text()
    assert "120 → 100" in text
    assert "dry run" in text
    [first, _] = results_json([done, dry])
    assert (first["duplicates_dropped"], first["deleted"]) == (20, 5)


async def test_a_manifest_retired_while_read_is_skipped_other_failures_raise() -> None:
    class Racing(MemoryStore):
        vanish = True

        async def get(self, key: str) -> bytes:
            if key.startswith("_compaction/"):
                if self.vanish:
                    await self.delete([key])  # another run retired it meanwhile
                else:
                    raise StoreError("memory get: timed out")
            return await super().get(key)

    store, clock = Racing(), Clock()
    await archive(store, [(n, n) for n in range(10)], 1)
    await archive(store, [(n, n) for n in range(10, 20)], 11)
    store.vanish = False
    await run(store, clock)
    with pytest.raises(StoreError, match="timed out"):
        await load_manifests(store, "reports")
    store.vanish = True
    assert await load_manifests(store, "reports") == {}


async def test_the_progress_bar_follows_the_bytes_merged() -> None:
    store, clock = MemoryStore(), Clock()
    await archive(store, [(n, n) for n in range(10)], 1)
    await archive(store, [(n, n) for n in range(10, 20)], 11)
    out = io.StringIO()
    with ProgressBar(Console(file=out, force_terminal=True, width=120)) as bar:
        options = CompactOptions(policy=POLICY)
        await compact(store, ["reports", "alerts"], options, now=clock, progress=bar)
    assert "reports: 1 merges" in out.getvalue()
    with progress_bar(enabled=False) as none:
        assert none is None
