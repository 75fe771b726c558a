"""Compaction against a real nats-server and SeaweedFS S3, on objects the archiver wrote.

Exactly the reports of the inputs after compaction (values too, duplicates dropped), open
hours untouched, ``--dry-run`` changing nothing, idempotent runs; and readers running while
compaction runs never miss a report nor see one twice after dedup by ``report_id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from nats.aio.client import Client as NatsClient
from test_archiver import DELIVERY, Case, archiving, connected, drained, eventually, read_archive

from peaceland.analytics import connect as duckdb_connect
from peaceland.archive import CompactionPolicy, CompactOptions, compact
from peaceland.archive.compaction import readable_keys
from peaceland.archive.layout import kind_prefix, parse_object_key
from peaceland.contract import StoreError, report_subject
from peaceland.storage import S3Store
from peaceland.stream import OutMessage, Publisher

pytestmark = pytest.mark.slow

_NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
CLOSED = _NOW - timedelta(hours=30)  # closed: ended more than the 2 h grace ago
OPEN = _NOW  # the current hour


async def publish(
    nc: NatsClient, case: Case, numbers: range, hour: datetime, *, with_id: bool = True
) -> set[str]:
    """Reports ``numbers`` of ``case``'s drone, report ``n`` at ``hour`` + n s; their ids."""
    publisher = Publisher(nc)
    ids: set[str] = set()
    chunk: list[OutMessage] = []
    for n in numbers:
        ts = (hour + timedelta(seconds=n % 3600)).isoformat().replace("+00:00", "Z")
        report_id = f"{case.drone}/{n}"
        body = {
            "drone_id": case.drone,
            "ts": ts,
            "lat": 45 + n / 10_000,
            "lon": 2 - n / 10_000,
            "citizens": [{"name": f"Citizen {n % 97}", "peacescore": n % 101}],
            "words": [f"w{n % 7}"],
            "report_id": report_id,
        }
        ids.add(report_id)
        payload = json.dumps(body).encode()
        chunk.append(
            OutMessage(report_subject(case.drone), payload, msg_id=report_id if with_id else None)
        )
        if len(chunk) == 250 or n == numbers[-1]:
            results = await publisher.publish_all(chunk)
            assert all(not isinstance(r, Exception) for r in results), results
            chunk = []
    return ids


async def listing(store: S3Store, case: Case) -> dict[str, int]:
    return {o.key: o.size for o in await store.list(case.prefix)}


def by_id(objects: list[tuple[str, Any]]) -> tuple[int, dict[str, dict[str, Any]]]:
    """(rows, the first received copy of each report without its delivery columns)."""
    rows = [row for _, table in objects for row in table.to_pylist()]
    kept: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: (r["received_at"], r["stream_seq"])):
        kept.setdefault(row["report_id"], {k: v for k, v in row.items() if k not in DELIVERY})
    return len(rows), kept


async def compact_cli(stack: Any, case: Case, *args: str) -> list[dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "peaceland",
        "archive",
        "compact",
        f"--key-prefix={case.prefix}",
        "--json",
        *args,
        env=stack.env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    results: list[dict[str, Any]] = json.loads(out)
    return results


async def test_compaction_keeps_exactly_the_reports_leaves_open_hours_and_is_idempotent(
    stack: Any,
) -> None:
    case = Case()
    async with connected(stack) as nc:
        await publish(nc, case, range(3000), CLOSED)
        await publish(nc, case, range(1000, 1300), CLOSED, with_id=False)  # stored twice
        await publish(nc, case, range(10_000, 10_200), OPEN)
        async with archiving(stack, case.options()):
            await eventually(lambda: drained(nc, case))
    store = S3Store.connect(stack.endpoints)
    try:
        before = await listing(store, case)
        rows_before, reports_before = by_id(await read_archive(stack, case))
        hour = f"{case.prefix}reports/date={CLOSED.date().isoformat()}/hour={CLOSED.hour:02d}/"
        closed = [k for k in before if k.startswith(hour)]
        open_keys = sorted(k for k in before if k not in closed)
        assert len(closed) >= 6
        assert rows_before == 3500

        [dry] = await compact_cli(stack, case, "--dry-run", "--kind=reports")
        assert (dry["groups"], dry["objects_in"], dry["open_partitions"]) == (1, len(closed), 1)
        other_day = (CLOSED - timedelta(days=3)).date().isoformat()
        [none] = await compact_cli(stack, case, f"--date={other_day}", "--kind=reports")
        assert none["closed_partitions"] == none["groups"] == 0
        assert await listing(store, case) == before  # nothing changed

        results = {r["kind"]: r for r in await compact_cli(stack, case, "--delete-after=0")}
        first = results["reports"]
        assert (first["rows_in"], first["rows_out"], first["duplicates_dropped"]) == (
            3300,
            3000,
            300,
        )
        assert results["alerts"]["groups"] == results["deadletter"]["groups"] == 0
        [output] = first["outputs"]
        name = parse_object_key(output, case.prefix)
        assert name is not None
        assert (name.compacted, name.rows, name.partition.hour) == (True, 3000, CLOSED.hour)
        after_merge = await listing(store, case)
        assert set(before) < set(after_merge)  # inputs kept until the next run
        rows, reports = by_id(await read_archive(stack, case))
        assert rows == 3500 + 3000
        assert reports == reports_before

        second = {r["kind"]: r for r in await compact_cli(stack, case, "--delete-after=0")}
        assert (second["reports"]["deleted"], second["reports"]["groups"]) == (len(closed), 0)
        settled = await listing(store, case)
        data = sorted(k for k in settled if k.startswith(kind_prefix("reports", case.prefix)))
        assert data == sorted([output, *open_keys])  # the open hour's objects, untouched
        assert all(settled[k] == before[k] for k in open_keys)
        rows, reports = by_id(await read_archive(stack, case))
        assert rows == 3000 + 200  # the closed hour holds no duplicate any more
        assert reports == reports_before

        third = await compact_cli(stack, case, "--delete-after=0")
        assert all(r["groups"] == r["deleted"] == 0 for r in third)
        assert await listing(store, case) == settled
    finally:
        store.close()


class Reader:
    """Reads the report_ids of the hour again and again, as a query engine does: list the
    objects, then read each one (pyarrow, from S3); ``careful`` reads the manifests first."""

    def __init__(self, store: S3Store, case: Case, *, careful: bool = False) -> None:
        self.store, self.case, self.careful = store, case, careful
        self.must: set[str] = set()  # archived before the current pass began
        self.passes = 0
        self.missing_objects = 0  # a listed object gone when read (loud, retried)
        self.longest_s = 0.0
        self.failures: list[str] = []

    async def keys(self) -> list[str]:
        day = CLOSED.date()
        if self.careful:
            keys = await readable_keys(self.store, "reports", self.case.prefix, day)
        else:
            keys = [o.key for o in await self.store.list(self.case.prefix + "reports/")]
        return [k for k in keys if f"date={day.isoformat()}/hour={CLOSED.hour:02d}/" in k]

    async def ids(self) -> list[str] | None:
        """Every report_id read (duplicates included), or None when a listed object was gone."""
        ids: list[str] = []
        try:
            for key in await self.keys():
                data = await self.store.get(key)
                table = pq.read_table(pa.BufferReader(data), columns=["report_id"])
                ids.extend(table["report_id"].to_pylist())
        except StoreError as exc:
            if "NoSuchKey" not in str(exc) and "404" not in str(exc):
                raise
            return None
        return ids

    async def once(self, archived: set[str]) -> None:
        must = set(archived)
        began = time.monotonic()
        ids = await self.ids()
        if ids is None:  # loud, never silently short: a query engine reports an error
            self.missing_objects += 1
            return
        self.passes += 1
        self.longest_s = max(self.longest_s, time.monotonic() - began)
        missing = must - set(ids)
        if missing:
            self.failures.append(f"pass {self.passes}: {len(missing)} reports missing")

    async def run(self, archived: set[str], stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.once(archived)


class DuckDBReader(Reader):
    """The ``reports`` view itself (``peaceland.analytics``, DuckDB over S3), which must never
    yield a report twice."""

    def __init__(self, stack: Any, store: S3Store, case: Case) -> None:
        super().__init__(store, case)
        hour = timedelta(hours=1)
        self.con = duckdb_connect(
            stack.endpoints, key_prefix=case.prefix, since=CLOSED, until=CLOSED + hour
        )

    def _read(self) -> list[str] | None:
        try:
            rows = self.con.sql("SELECT report_id FROM reports").fetchall()
        except duckdb.Error as exc:
            if "404" not in str(exc) and "Not Found" not in str(exc):
                raise
            return None
        ids = [row[0] for row in rows]
        if len(ids) != len(set(ids)):
            self.failures.append(f"pass {self.passes}: a report twice in the view")
        return ids

    async def ids(self) -> list[str] | None:
        return await asyncio.to_thread(self._read)


@contextlib.asynccontextmanager
async def reading(readers: list[Reader], archived: set[str]) -> AsyncIterator[None]:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(archived, stop)) for r in readers]
    try:
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_readers_during_compaction_never_miss_nor_double_a_report(stack: Any) -> None:
    case = Case()
    policy = CompactionPolicy(target_bytes=60_000, grace_s=7200, delete_after_s=4.0)
    options = CompactOptions(policy=policy, key_prefix=case.prefix, day=CLOSED.date())
    store = S3Store.connect(stack.endpoints)
    glob, careful = Reader(store, case), Reader(store, case, careful=True)
    archived: set[str] = set()
    try:
        async with connected(stack) as nc, archiving(stack, case.options()):
            archived |= await publish(nc, case, range(4000), CLOSED)
            await publish(nc, case, range(500, 900), CLOSED, with_id=False)
            await eventually(lambda: drained(nc, case))
            merges = 0
            view = DuckDBReader(stack, store, case)
            async with reading([glob, careful, view], archived):
                for late in range(4):
                    results = await compact(store, ["reports"], options)
                    merges += results[0].groups
                    numbers = range(5000 + 100 * late, 5050 + 100 * late)
                    fresh = await publish(nc, case, numbers, CLOSED)
                    await eventually(lambda: drained(nc, case))
                    archived |= fresh
                    await asyncio.sleep(policy.delete_after_s / 2)
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:  # until every manifest is done
                    await asyncio.sleep(policy.delete_after_s / 2)
                    [result] = await compact(store, ["reports"], options)
                    merges += result.groups
                    if not result.groups and not result.awaiting_deletion:
                        break
        view.con.close()
        for reader in (glob, careful, view):
            assert reader.failures == []
            assert reader.passes >= 5
        assert careful.missing_objects == 0  # manifests first: never a missing object
        assert careful.longest_s < policy.delete_after_s
        # the first merge, then at least one rewrite taking the last late reports (an hour is
        # rewritten at most once per delete delay: it waits while a merge of it is retired)
        assert merges >= 2
        _, reports = by_id(await read_archive(stack, case))
        assert set(reports) == archived  # each report once after dedup; none lost
        leftovers = [
            k for k in await listing(store, case) if k.startswith(case.prefix + "_compaction/")
        ]
        assert leftovers == []
    finally:
        store.close()
