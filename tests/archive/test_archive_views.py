"""End to end: reports published to JetStream, archived by the real archiver, counted by the
views, including reports stored twice (re-sent without a message id) and a late report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from test_archiver import T0, Case, archiving, connected, drained, eventually, publish_reports

from peaceland.analytics import TimeRange, archive_from, connect, run_query, run_stat
from peaceland.archive.layout import kind_prefix
from peaceland.storage import S3Store

pytestmark = pytest.mark.slow


async def test_views_see_what_the_archiver_wrote_once(stack: Any) -> None:
    case = Case()
    async with connected(stack) as nc:
        sent = await publish_reports(nc, case, range(120))  # 08:00 .. 09:59
        await publish_reports(nc, case, range(30, 50), with_id=False)  # stored twice
        async with archiving(stack, case.options()):
            await eventually(lambda: drained(nc, case))
    store = S3Store.connect(stack.endpoints)
    try:
        stored = sum(
            int(o.key.split("-n")[1].split("-")[0])
            for o in await store.list(kind_prefix("reports", case.prefix))
        )
    finally:
        store.close()
    assert stored == 140

    con = connect(stack.endpoints, key_prefix=case.prefix)
    try:
        rows = run_query(con, "SELECT report_id FROM reports ORDER BY report_id").rows()
        sightings = run_query(con, "SELECT count(*) AS n FROM sightings").rows()
    finally:
        con.close()
    assert [r["report_id"] for r in rows] == sorted(sent)
    assert sightings == [{"n": 2 * len(sent)}]

    archive = archive_from(stack.endpoints, case.prefix)
    by_hour = run_stat(archive, "agitation_by_hour").rows()
    assert [(r["hour"], r["sightings"]) for r in by_hour] == [(8, 120), (9, 120)]
    second_hour = run_stat(archive, "active_drones", TimeRange(since=T0 + timedelta(hours=1)))
    assert [(r["drone_id"], r["reports"]) for r in second_hour.rows()] == [(case.drone, 60)]
