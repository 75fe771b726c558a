"""The archiver against a real nats-server and SeaweedFS S3: exactly the reports sent end up in
the archive (after duplicates, a SIGKILL, two archivers side by side, an S3 outage).

Each test archives its own drone (a filter subject) with its own durable under its own key
prefix, so tests share the session's stack without seeing each other's data. "Each report
exactly once" is checked as the ``reports`` view sees it: distinct ``report_id``s are exactly
those sent, and any report stored twice (a redelivery after a crash) is the same row twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import nats
import pyarrow as pa
import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import NotFoundError

from peaceland.archive import ArchiverOptions, FlushPolicy, Kind, PipelineOptions, run_archiver
from peaceland.archive.archiver import consumer_spec
from peaceland.archive.layout import kind_prefix, parse_object_key
from peaceland.archive.parquet import decode_parquet
from peaceland.archive.pipeline import PipelineStats
from peaceland.contract import (
    DEADLETTER_STREAM,
    ERROR_HEADER,
    Alert,
    alert_subject,
    deadletter_subject,
    encode_alert,
    report_subject,
)
from peaceland.servers import services
from peaceland.storage import S3Store
from peaceland.stream import OutMessage, Publisher, consumer_lag

pytestmark = pytest.mark.slow

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
DELIVERY = {"received_at", "stream_seq"}
FAST = FlushPolicy(max_rows=500, max_bytes=2**20, max_age_s=0.5)


class Case:
    """One test's drone, durable and key prefix."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:10]
        self.drone = f"ar-{tag}"
        self.durable = f"archiver-{tag}"
        self.prefix = f"test-{tag}/"

    def options(self, kind: Kind = "reports", **pipeline: Any) -> ArchiverOptions:
        subject = {
            "reports": report_subject(self.drone),
            "alerts": alert_subject(self.drone),
            "deadletter": deadletter_subject(self.drone),
        }[kind]
        settings: dict[str, Any] = {"policy": FAST, "key_prefix": self.prefix}
        settings.update(pipeline)
        return ArchiverOptions(
            kinds=(kind,),
            durable=self.durable,
            filter_subject=subject,
            pipeline=PipelineOptions(**settings),
            log_every_s=1.0,
        )

    def cli_args(self, ack_wait_s: float = 30.0) -> list[str]:
        return [
            "archiver",
            "--kind=reports",
            f"--durable={self.durable}",
            f"--filter-subject={report_subject(self.drone)}",
            f"--key-prefix={self.prefix}",
            "--max-rows=500",
            "--max-age=1",
            f"--ack-wait={ack_wait_s}",
        ]

    def report(self, n: int, minutes: int | None = None) -> tuple[str, bytes]:
        """Report ``n``: one a minute from T0 (or at ``minutes``), with two citizens."""
        ts = T0 + timedelta(minutes=n if minutes is None else minutes)
        text = ts.isoformat().replace("+00:00", "Z")
        body = {
            "drone_id": self.drone,
            "ts": text,
            "lat": 45 + n / 10_000,
            "lon": 2 - n / 10_000,
            "citizens": [
                {"name": f"Citizen {n}", "peacescore": n % 101},
                {"name": "Zoé", "peacescore": 50},
            ],
            "words": [f"w{n % 7}", "calme"],
        }
        return f"{self.drone}:{text}", json.dumps(body).encode()


@contextlib.asynccontextmanager
async def connected(stack: Any) -> AsyncIterator[NatsClient]:
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        yield nc
    finally:
        await nc.close()


async def publish_reports(
    nc: NatsClient, case: Case, numbers: range, *, with_id: bool = True, pace_s: float = 0
) -> dict[str, bytes]:
    """Publish reports ``numbers`` (``Nats-Msg-Id`` = report_id unless ``with_id`` is false);
    returns them by report_id."""
    publisher = Publisher(nc)
    sent: dict[str, bytes] = {}
    chunk: list[OutMessage] = []
    for n in numbers:
        report_id, payload = case.report(n)
        sent[report_id] = payload
        chunk.append(
            OutMessage(report_subject(case.drone), payload, msg_id=report_id if with_id else None)
        )
        if len(chunk) == 200 or n == numbers[-1]:
            results = await publisher.publish_all(chunk)
            assert all(not isinstance(r, Exception) for r in results), results
            chunk = []
            if pace_s:
                await asyncio.sleep(pace_s)
    return sent


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)


async def drained(nc: NatsClient, case: Case, kind: Kind = "reports") -> bool:
    spec = consumer_spec(kind, durable=case.durable)
    return await consumer_lag(nc.jetstream(), spec) == (0, 0)


async def pulling(nc: NatsClient, case: Case, requests: int) -> bool:
    """At least ``requests`` pull requests wait on the case's consumer (archivers are ready)."""
    spec = consumer_spec("reports", durable=case.durable)
    try:
        info = await nc.jetstream().consumer_info(spec.stream, spec.durable)
    except NotFoundError:
        return False
    return (info.num_waiting or 0) >= requests


async def read_archive(
    stack: Any, case: Case, kind: Kind = "reports"
) -> list[tuple[str, pa.Table]]:
    """Every object of ``kind`` under the case's prefix, with its key."""
    store = S3Store.connect(stack.endpoints)
    try:
        listing = await store.list(kind_prefix(kind, case.prefix))
        return [(o.key, decode_parquet(await store.get(o.key))) for o in listing]
    finally:
        store.close()


def rows_of(objects: list[tuple[str, pa.Table]]) -> list[dict[str, Any]]:
    if not objects:
        return []
    rows: list[dict[str, Any]] = pa.concat_tables([table for _, table in objects]).to_pylist()
    return rows


def assert_exactly_once(objects: list[tuple[str, pa.Table]], sent: dict[str, bytes]) -> None:
    """As the ``reports`` view sees it: each report sent once, stored copies identical, each in
    its UTC hour, named by what it holds."""
    rows = rows_of(objects)
    by_id: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_id.setdefault(row["report_id"], []).append(row)
    assert sorted(by_id) == sorted(sent)
    for copies in by_id.values():  # the same report (maybe received twice): the view keeps one
        content = [{k: v for k, v in c.items() if k not in DELIVERY} for c in copies]
        assert all(c == content[0] for c in content)
    for key, table in objects:
        name = parse_object_key(key, key.split("reports/")[0])
        assert name is not None, key
        assert name.rows == table.num_rows
        seqs = table.column("stream_seq").to_pylist()
        assert (min(seqs), max(seqs)) == (name.first_seq, name.last_seq)
        assert {ts.hour for ts in table.column("ts").to_pylist()} == {name.partition.hour}
        assert {ts.date() for ts in table.column("ts").to_pylist()} == {name.partition.day}


@contextlib.asynccontextmanager
async def archiving(stack: Any, options: ArchiverOptions) -> AsyncIterator[list[PipelineStats]]:
    """An archiver in this process until the block ends; yields its final stats after."""
    stop = asyncio.Event()
    task = asyncio.create_task(run_archiver(stack.settings, stop, options))
    final: list[PipelineStats] = []
    try:
        yield final
    finally:
        stop.set()
        final.extend(await asyncio.wait_for(task, 60))


async def spawn_archiver(stack: Any, args: list[str], log: IO[bytes]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "peaceland", *args, env=stack.env(), stdout=log, stderr=log
    )


async def stop_archiver(proc: asyncio.subprocess.Process) -> int:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(proc.wait(), 30)


# -- the tests ------------------------------------------------------------------------------------


async def test_the_archive_holds_exactly_the_reports_sent(stack: Any) -> None:
    case = Case()
    async with connected(stack) as nc:
        sent = await publish_reports(nc, case, range(600))  # 08:00 .. 17:59, ten hours
        await publish_reports(nc, case, range(100))  # resent: JetStream drops them (msg id)
        await publish_reports(nc, case, range(50, 80), with_id=False)  # resent, stored twice
        late_id, late = case.report(600, minutes=-26 * 60)  # a day late
        sent[late_id] = late
        await nc.jetstream().publish(report_subject(case.drone), late)
        invalid = json.dumps({"drone_id": case.drone, "words": "marker " + case.prefix}).encode()
        await nc.jetstream().publish(report_subject(case.drone), invalid)
        async with archiving(stack, case.options()) as stats:
            await eventually(lambda: drained(nc, case))
        dead = await nc.jetstream().get_last_msg(DEADLETTER_STREAM, deadletter_subject("archiver"))
    [reports] = stats
    assert (reports.received, reports.archived, reports.dead_lettered) == (632, 631, 1)
    objects = await read_archive(stack, case)
    assert_exactly_once(objects, sent)
    rows = rows_of(objects)
    assert len(rows) == 631  # the 30 resent without an id are stored twice: the view drops them
    names = [parse_object_key(key, case.prefix) for key, _ in objects]
    assert len({n.partition for n in names if n is not None}) == 11  # ten hours + the late one
    row = next(r for r in rows if r["report_id"] == late_id)
    assert row["ts"] == datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    original = json.loads(sent[row["report_id"]])
    assert row["citizens"] == original["citizens"]
    assert (row["lat"], row["lon"], row["words"], row["extra"]) == (
        original["lat"],
        original["lon"],
        original["words"],
        None,
    )
    assert row["received_at"] > datetime.now(UTC) - timedelta(minutes=5)
    assert dead.data == invalid
    assert dead.headers is not None
    assert dead.headers[ERROR_HEADER] == "missing required field 'ts'"


async def test_archive_status_counts_objects_rows_and_lag(stack: Any) -> None:
    case = Case()
    async with connected(stack) as nc:
        await publish_reports(nc, case, range(120))
        async with archiving(stack, case.options()):
            await eventually(lambda: drained(nc, case))

    async def archive_status(*extra: str) -> bytes:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "peaceland",
            "archive",
            "status",
            f"--durable={case.durable}",
            f"--key-prefix={case.prefix}",
            *extra,
            env=stack.env(),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await proc.communicate()
        assert proc.returncode == 0
        return out

    shown = (await archive_status()).decode()
    assert "REPORTS" in shown
    assert "120" in shown
    status = {s["kind"]: s for s in json.loads(await archive_status("--json"))}
    objects = await read_archive(stack, case)
    assert status["reports"]["rows"] == 120
    assert status["reports"]["objects"] == len(objects)
    assert (status["reports"]["pending"], status["reports"]["in_flight"]) == (0, 0)
    assert status["reports"]["last_write"] is not None
    assert status["alerts"]["objects"] == 0


async def test_sigkill_mid_batch_then_restart_archives_each_report_once(
    stack: Any, tmp_path: Path
) -> None:
    case = Case()
    args = case.cli_args(ack_wait_s=5)
    log_path = tmp_path / "archiver.log"
    with log_path.open("wb") as log:
        first = await spawn_archiver(stack, args, log)
        try:
            async with connected(stack) as nc:
                # 3000 reports over about 6 s: the archiver always has some in hand.
                publisher = asyncio.create_task(publish_reports(nc, case, range(3000), pace_s=0.4))
                spec = consumer_spec("reports", durable=case.durable)

                async def some_written() -> bool:
                    return len(await read_archive(stack, case)) >= 2

                await eventually(some_written)
                while True:  # freeze it with messages in hand, then SIGKILL
                    first.send_signal(signal.SIGSTOP)
                    lag = await consumer_lag(nc.jetstream(), spec)
                    assert lag is not None
                    if lag[1] > 0:
                        break
                    first.send_signal(signal.SIGCONT)
                    await asyncio.sleep(0.05)
                first.kill()  # those are never acknowledged
                await first.wait()
                sent = await publisher
                second = await spawn_archiver(stack, args, log)
                try:
                    await eventually(lambda: drained(nc, case))
                finally:
                    code = await stop_archiver(second)
        finally:
            if first.returncode is None:
                first.kill()
                await first.wait()
    assert code == 0, log_path.read_text()
    assert_exactly_once(await read_archive(stack, case), sent)


async def test_two_archivers_side_by_side_share_the_work(stack: Any, tmp_path: Path) -> None:
    case = Case()
    logs = [tmp_path / "one.log", tmp_path / "two.log"]
    async with connected(stack) as nc:
        with logs[0].open("wb") as one, logs[1].open("wb") as two:
            procs = [await spawn_archiver(stack, case.cli_args(), log) for log in (one, two)]
            try:
                await eventually(lambda: pulling(nc, case, 2))  # both started: a fair race
                sent = await publish_reports(nc, case, range(4000), pace_s=0.05)
                await eventually(lambda: drained(nc, case))
            finally:
                codes = [await stop_archiver(p) for p in procs]
    assert codes == [0, 0]
    objects = await read_archive(stack, case)
    assert_exactly_once(objects, sent)
    assert sum(t.num_rows for _, t in objects) == 4000  # no crash: not even a stored duplicate
    for log in logs:
        text = log.read_text()
        archived = int(text.split("stopped: reports: ")[1].split(" archived")[0].replace(",", ""))
        assert archived > 0, text  # both took a share


async def test_alerts_and_dead_letters_are_archived_too(stack: Any) -> None:
    case = Case()
    alert = Alert(
        alert_id=f"{case.drone}:2026-11-28T10:15:00Z/0",
        report_id=f"{case.drone}:2026-11-28T10:15:00Z",
        drone_id=case.drone,
        ts=datetime(2026, 11, 28, 10, 15, tzinfo=UTC),
        lat=48.85,
        lon=2.35,
        citizen="Bob",
        peacescore=3,
        severity="critical",
        words=["bonjour"],
        raised_at="2026-11-28T10:15:01.000000Z",
    )
    async with connected(stack) as nc:
        js = nc.jetstream()
        await js.publish(alert_subject(case.drone), encode_alert(alert))
        await js.publish(
            deadletter_subject(case.drone), b"\xffraw", headers={ERROR_HEADER: "not valid UTF-8"}
        )
        async with (
            archiving(stack, case.options("alerts")),
            archiving(stack, case.options("deadletter")),
        ):
            await eventually(lambda: drained(nc, case, "alerts"))
            await eventually(lambda: drained(nc, case, "deadletter"))
    [(alert_key, alerts)] = await read_archive(stack, case, "alerts")
    assert alert_key.startswith(f"{case.prefix}alerts/date=2026-11-28/hour=10/")
    assert alerts.to_pylist()[0]["alert_id"] == alert.alert_id
    [(dead_key, dead)] = await read_archive(stack, case, "deadletter")
    today = datetime.now(UTC).date().isoformat()
    assert dead_key.startswith(f"{case.prefix}deadletter/date={today}/seq-")
    [row] = dead.to_pylist()
    assert (row["payload"], row["reason"], row["source"]) == (
        b"\xffraw",
        "not valid UTF-8",
        case.drone,
    )


async def test_s3_outage_holds_the_backlog_then_catches_up(fresh_stack: Any) -> None:
    case = Case()
    options = case.options(backoff_initial_s=0.2, backoff_max_s=1.0, fetch_batch=200)
    async with connected(fresh_stack) as nc, archiving(fresh_stack, options) as stats:
        sent = await publish_reports(nc, case, range(1000))
        await eventually(lambda: drained(nc, case))
        await asyncio.to_thread(services.kill_service, fresh_stack.settings, "weed")
        sent.update(await publish_reports(nc, case, range(1000, 4000)))
        spec = consumer_spec("reports", durable=case.durable)
        await asyncio.sleep(3)
        lag = await consumer_lag(nc.jetstream(), spec)
        assert lag is not None
        held = lag[1]
        assert 0 < held <= 2 * FAST.max_rows  # two batches in hand, the rest left in JetStream
        assert lag[0] >= 3000 - 2 * FAST.max_rows
        await asyncio.to_thread(services.up, fresh_stack.settings, prefer_default_ports=False)
        await eventually(lambda: drained(nc, case), timeout=120)
    [reports] = stats
    assert reports.store_errors > 0
    assert reports.archived == 4000
    objects = await read_archive(fresh_stack, case)
    assert_exactly_once(objects, sent)
    assert sum(t.num_rows for _, t in objects) == 4000
