"""The compactor component against a real nats-server and SeaweedFS S3: closed hours are
compacted by themselves, late reports are merged by a later pass, and of two compactors one
works while the other waits to take over."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from test_archiver import Case, archiving, connected, drained, eventually, read_archive
from test_compaction import publish

from peaceland.archive import CompactorOptions, run_compactor
from peaceland.archive.compaction import CompactorCounters
from peaceland.archive.layout import parse_object_key
from peaceland.contract import StoreError

pytestmark = pytest.mark.slow

CLOSED = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)


def settings_for(stack: Any) -> Any:
    return dataclasses.replace(
        stack.settings,
        compact_grace_s=600.0,
        compact_delete_after_s=0.0,
        compact_interval_s=0.2,
        metrics_port=None,
    )


@contextlib.asynccontextmanager
async def compactor(stack: Any, case: Case) -> AsyncIterator[tuple[asyncio.Event, Compactor]]:
    stop = asyncio.Event()
    counters = CompactorCounters()
    options = CompactorOptions(key_prefix=case.prefix)
    task = asyncio.create_task(run_compactor(settings_for(stack), stop, options, counters))
    try:
        yield stop, Compactor(task, counters)
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


@dataclasses.dataclass
class Compactor:
    task: asyncio.Task[CompactorCounters]
    counters: CompactorCounters


async def closed_hour(stack: Any, case: Case) -> tuple[list[str], int, set[str]]:
    """The closed hour's object keys, its rows, and its distinct report ids."""
    objects = await read_archive(stack, case)
    hour = f"date={CLOSED.date().isoformat()}/hour={CLOSED.hour:02d}/"
    mine = [(key, table) for key, table in objects if hour in key]
    ids = {i for _, table in mine for i in table["report_id"].to_pylist()}
    return [key for key, _ in mine], sum(t.num_rows for _, t in mine), ids


async def compacted_to_one(stack: Any, case: Case, reports: int) -> bool:
    try:
        keys, rows, ids = await closed_hour(stack, case)
    except StoreError as exc:  # an object listed, then deleted by a pass before it was read
        if "NoSuchKey" not in str(exc):
            raise
        return False
    names = [parse_object_key(k, case.prefix) for k in keys]
    return (
        len(keys) == 1
        and all(n is not None and n.compacted for n in names)
        and (rows == len(ids) == reports)
    )


async def test_two_compactors_one_works_late_reports_merged_and_the_other_takes_over(
    stack: Any,
) -> None:
    case = Case()
    async with connected(stack) as nc:
        await publish(nc, case, range(2000), CLOSED)
        await publish(nc, case, range(500, 700), CLOSED, with_id=False)  # stored twice
        async with archiving(stack, case.options()):
            await eventually(lambda: drained(nc, case))
        keys, rows, _ = await closed_hour(stack, case)
        assert len(keys) >= 4
        assert rows == 2200

        async with compactor(stack, case) as (stop_a, a):
            await eventually(lambda: compacted_to_one(stack, case, 2000), timeout=90)
            async with compactor(stack, case) as (_, b):
                # Late reports for the compacted hour land as small objects; a pass merges
                # them, the first compactor's: it holds the lease.
                await publish(nc, case, range(5000, 5100), CLOSED)
                async with archiving(stack, case.options()):
                    await eventually(lambda: drained(nc, case))
                await eventually(lambda: compacted_to_one(stack, case, 2100), timeout=90)
                assert b.counters.passes == 0  # waiting for the lease all along

                stop_a.set()  # the first stops and gives its lease back: the second takes over
                await asyncio.wait_for(a.task, 60)
                await publish(nc, case, range(6000, 6050), CLOSED)
                async with archiving(stack, case.options()):
                    await eventually(lambda: drained(nc, case))
                await eventually(lambda: compacted_to_one(stack, case, 2150), timeout=90)
                assert b.counters.passes > 0

    first, second = a.counters, b.counters
    assert first.objects_written >= 2  # the hour, then it with the first late reports
    assert second.objects_written >= 1  # it with the last late reports
    assert (first.duplicates_dropped, second.duplicates_dropped) == (200, 0)
    assert first.passes_cut_short == second.passes_cut_short == 0
    assert first.passes_failed == second.passes_failed == 0
