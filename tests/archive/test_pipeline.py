"""The archiver's pipeline against in-memory twins: JetStream (``MemoryStream``), S3
(``MemoryStore``) and the dead letter stream. Write then acknowledge, S3 outages, crashes
between write and acknowledgement, poison messages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from peaceland.archive import FlushPolicy, PipelineOptions
from peaceland.archive.kinds import ARCHIVE_KINDS, Kind
from peaceland.archive.layout import parse_object_key
from peaceland.archive.parquet import decode_parquet
from peaceland.archive.pipeline import Pipeline
from peaceland.contract import ERROR_HEADER
from peaceland.stream import ACK
from peaceland.testing import MemoryDeadLetters, MemoryStore, MemoryStream

T0 = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
STREAMS = {"reports": "REPORTS", "alerts": "ALERTS", "deadletter": "DEADLETTER"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Rig:
    """A pipeline wired to twins."""

    def __init__(
        self,
        kind: Kind = "reports",
        *,
        clock: Callable[[], float] | None = None,
        ack_wait_s: float = 30.0,
        stream: MemoryStream | None = None,
        store: MemoryStore | None = None,
        **options: Any,
    ) -> None:
        self.clock = clock or FakeClock()
        self.stream = stream or MemoryStream(STREAMS[kind], ack_wait_s=ack_wait_s, clock=self.clock)
        self.store = store or MemoryStore()
        self.deadletters = MemoryDeadLetters()
        defaults: dict[str, Any] = {
            "policy": FlushPolicy(100, 10**9, 10.0),
            "ack_wait_s": ack_wait_s,
            "backoff_initial_s": 0.001,
            "backoff_max_s": 0.01,
            "stop_grace_s": 0.05,
        }
        defaults.update(options)
        self.pipeline = Pipeline(
            ARCHIVE_KINDS[kind],
            self.stream,
            self.store,
            self.deadletters,
            PipelineOptions(**defaults),
            clock=self.clock,
        )

    async def drain(self, steps: int = 1000) -> None:
        """Step until a fetch brings nothing, then write what is held."""
        for _ in range(steps):
            fetches, received = self.stream.fetches, self.pipeline.stats.received
            await self.pipeline.step()
            if self.stream.fetches > fetches and self.pipeline.stats.received == received:
                break
        await self.pipeline.finish()

    def rows(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for data in self.store.objects.values():
            out.extend(decode_parquet(data).to_pylist())
        return out


def report_payload(drone: str, minute: int) -> bytes:
    ts = (T0 + timedelta(minutes=minute)).isoformat().replace("+00:00", "Z")
    body = {
        "drone_id": drone,
        "ts": ts,
        "lat": 48.0 + minute / 1000,
        "lon": 2.0,
        "citizens": [{"name": f"c{minute}", "peacescore": minute % 101}],
        "words": ["calme"] * (minute % 3),
    }
    return json.dumps(body).encode()


def publish_reports(stream: MemoryStream, count: int, drone: str = "pw-0001") -> set[str]:
    ids = set()
    for minute in range(count):
        stream.publish(f"peaceland.reports.{drone}", report_payload(drone, minute))
        ids.add(f"{drone}:{(T0 + timedelta(minutes=minute)).isoformat().replace('+00:00', 'Z')}")
    return ids


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


class WriteChecker(MemoryStore):
    """Fails the test if any message of an object was acknowledged before the object was put."""

    def __init__(self) -> None:
        super().__init__()
        self.stream: MemoryStream | None = None
        self.violations: list[int] = []

    async def put(self, key: str, data: bytes) -> None:
        assert self.stream is not None
        seqs = decode_parquet(data).column("stream_seq").to_pylist()
        self.violations.extend(s for s in seqs if s in self.stream.acked)
        await super().put(key, data)


class DiesBeforeAck:
    """A source whose process dies after writing, before its acknowledgements arrive."""

    def __init__(self, stream: MemoryStream) -> None:
        self.stream = stream

    async def fetch(self, batch: int, max_wait_s: float, max_bytes: int) -> Any:
        return await self.stream.fetch(batch, max_wait_s, max_bytes)

    async def settle(self, replies: Sequence[str], verdict: bytes = ACK) -> bool:
        if verdict == ACK:
            return False  # never arrives
        return await self.stream.settle(replies, verdict)


async def test_reports_are_written_by_event_hour_then_acknowledged() -> None:
    store = WriteChecker()
    rig = Rig(store=store)
    store.stream = rig.stream
    sent = publish_reports(rig.stream, 250)  # 09:30 .. 13:39, several hours
    rig.stream.publish("peaceland.reports.pw-0001", b'{"drone_id": "pw-0001"}')
    await rig.drain()
    rows = rig.rows()
    assert sorted(r["report_id"] for r in rows) == sorted(sent)
    assert store.violations == []
    assert rig.stream.unsettled == 0
    assert rig.stream.acked == set(range(1, 252))
    for key, data in store.objects.items():
        name = parse_object_key(key)
        assert name is not None
        hours = {ts.hour for ts in decode_parquet(data).column("ts").to_pylist()}
        assert hours == {name.partition.hour}
    [dead] = rig.deadletters.messages
    assert dead.subject == "peaceland.deadletter.archiver"
    assert dead.payload == b'{"drone_id": "pw-0001"}'
    assert dead.headers == {ERROR_HEADER: "missing required field 'ts'"}
    assert dead.msg_id == f"archiver:REPORTS:251:{rig.stream.timestamp_ns(251)}"
    stats = rig.pipeline.stats
    assert (stats.received, stats.archived, stats.dead_lettered) == (251, 250, 1)
    assert stats.objects == len(store.objects)
    assert stats.last_flush is not None


async def test_a_batch_is_flushed_when_its_oldest_message_is_max_age_old() -> None:
    # A flow that never lets the archiver catch up: each fetch leaves messages pending.
    rig = Rig(policy=FlushPolicy(1000, 10**9, 10.0), fetch_batch=2)
    clock = rig.clock
    assert isinstance(clock, FakeClock)
    publish_reports(rig.stream, 5)
    await rig.pipeline.step()
    clock.now += 9.9
    await rig.pipeline.step()
    await rig.pipeline.wait_written()
    assert rig.store.objects == {}
    assert rig.stream.in_flight == 4
    clock.now += 0.1
    await rig.pipeline.step()  # due by age: flush
    await rig.pipeline.wait_written()
    assert len(rig.rows()) == 4
    assert rig.stream.acked == set(range(1, 5))


async def test_a_fetch_that_leaves_nothing_pending_flushes_at_once() -> None:
    rig = Rig(policy=FlushPolicy(1000, 10**9, 10.0), fetch_batch=4)
    publish_reports(rig.stream, 6)
    await rig.pipeline.step()  # 4 of 6: more pending, keep filling
    await rig.pipeline.wait_written()
    assert rig.store.objects == {}
    await rig.pipeline.step()  # the last 2: caught up, written without waiting for the age
    await rig.pipeline.wait_written()
    assert len(rig.rows()) == 6
    assert rig.stream.acked == set(range(1, 7))
    assert rig.pipeline.stats.objects == 1


async def test_store_outage_holds_at_most_two_batches_then_catches_up() -> None:
    import time

    rig = Rig(clock=time.monotonic, policy=FlushPolicy(50, 10**9, 0.05), fetch_batch=20)
    sent = publish_reports(rig.stream, 1000)
    rig.store.go_down()
    stop = asyncio.Event()
    task = asyncio.create_task(rig.pipeline.run(stop))
    await eventually(lambda: rig.store.failed_puts >= 5)
    fetches = rig.stream.fetches
    await asyncio.sleep(0.2)
    assert rig.stream.fetches == fetches  # fetching stopped
    assert rig.stream.acked == set()
    assert rig.stream.in_flight <= 100  # two batches of 50, never the backlog
    rig.store.come_back()
    await eventually(lambda: rig.stream.unsettled == 0)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert sorted(r["report_id"] for r in rig.rows()) == sorted(sent)
    assert rig.pipeline.stats.store_errors >= 5


async def test_held_messages_are_kept_from_redelivery_while_the_store_is_down() -> None:
    rig = Rig(ack_wait_s=30.0, policy=FlushPolicy(3, 10**9, 1000.0))
    clock = rig.clock
    assert isinstance(clock, FakeClock)
    publish_reports(rig.stream, 5)
    await rig.pipeline.step()  # 3 messages: due by rows
    await rig.pipeline.step()  # sealed, writing (the store is up, but not awaited yet)
    await rig.pipeline.step()  # 2 more, in the open batch
    assert await rig.pipeline.keep_alive_once() == 0  # not held long
    clock.now += 15
    marked = await rig.pipeline.keep_alive_once()
    assert marked == rig.stream.in_flight
    clock.now += 20  # 35 s since delivery, 20 since marked: nothing due again
    assert await rig.stream.fetch(10, 0, 10**9) == []


async def test_crash_between_write_and_ack_redelivers_and_each_report_stays_once() -> None:
    store = MemoryStore()
    first = Rig(store=store, policy=FlushPolicy(100, 10**9, 10.0))
    clock = first.clock
    assert isinstance(clock, FakeClock)
    sent = publish_reports(first.stream, 300)
    first.pipeline.source = DiesBeforeAck(first.stream)
    for _ in range(3):
        await first.pipeline.step()
    await first.pipeline.step()  # writes the first batch; the process dies before the ack
    await first.pipeline.wait_written()
    written_first = dict(store.objects)
    assert written_first
    assert first.stream.acked == set()

    clock.now += 31  # ack wait expired: everything comes back, to an archiver that batches by 70
    second = Rig(store=store, stream=first.stream, clock=clock, policy=FlushPolicy(70, 10**9, 10.0))
    await second.drain()
    assert second.stream.unsettled == 0
    for key, data in written_first.items():
        assert store.objects[key] == data  # never overwritten with other rows
    rows = second.rows()
    assert len(rows) > 300  # the redelivered batch landed under other names
    by_id: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_id.setdefault(row["report_id"], []).append(row)
    assert set(by_id) == sent
    for copies in by_id.values():  # duplicates are the same message: the view keeps one
        assert all(copy == copies[0] for copy in copies)


async def test_the_same_messages_redelivered_alike_overwrite_their_object() -> None:
    store = MemoryStore()
    clock = FakeClock()
    stream = MemoryStream(ack_wait_s=30.0, clock=clock)
    publish_reports(stream, 10)
    for _ in range(2):  # written, the process dies before the ack; the same batch comes back
        rig = Rig(store=store, stream=stream, clock=clock, policy=FlushPolicy(10, 10**9, 10))
        rig.pipeline.source = DiesBeforeAck(stream)
        await rig.pipeline.step()
        await rig.pipeline.step()
        await rig.pipeline.wait_written()
        clock.now += 31
    assert store.puts == 2
    assert len(store.objects) == 1
    assert stream.deliveries == dict.fromkeys(range(1, 11), 2)


async def test_a_poison_message_is_dead_lettered_after_bounded_deliveries() -> None:
    rig = Rig(poison_deliveries=3)
    clock = rig.clock
    assert isinstance(clock, FakeClock)
    publish_reports(rig.stream, 1)
    for _ in range(3):  # three archivers took it and died
        assert len(await rig.stream.fetch(10, 0, 10**9)) == 1
        clock.now += 31
    await rig.drain()
    assert rig.store.objects == {}
    [dead] = rig.deadletters.messages
    assert dead.headers == {ERROR_HEADER: "not archived after 4 deliveries (poison message)"}
    assert rig.stream.acked == {1}


async def test_dead_letters_not_stored_are_not_acknowledged() -> None:
    rig = Rig()
    clock = rig.clock
    assert isinstance(clock, FakeClock)
    rig.stream.publish("peaceland.reports.x", b"[]")
    rig.deadletters.failing = True
    await rig.pipeline.step()
    assert rig.stream.acked == set()
    assert rig.deadletters.messages == []
    rig.deadletters.failing = False
    clock.now += 31
    await rig.drain()
    assert rig.stream.acked == {1}
    assert len(rig.deadletters.messages) == 1


async def test_a_poison_message_whose_dead_letter_fails_is_terminated() -> None:
    rig = Rig(poison_deliveries=1)
    clock = rig.clock
    assert isinstance(clock, FakeClock)
    rig.stream.publish("peaceland.reports.x", b"not json")
    rig.deadletters.failing = True  # say, too large for DEADLETTER
    await rig.pipeline.step()  # invalid; its dead letter is not stored: it comes back
    assert rig.stream.in_flight == 1
    clock.now += 31
    await rig.pipeline.step()  # poison now, and still no dead letter: terminated
    assert rig.stream.terminated == {1}
    assert rig.stream.unsettled == 0


async def test_dead_letter_kind_keeps_payload_and_reason_and_terminates_poison() -> None:
    rig = Rig("deadletter", poison_deliveries=2)
    clock = rig.clock
    assert isinstance(clock, FakeClock)
    rig.stream.publish("peaceland.deadletter.gateway", b"poison", {ERROR_HEADER: "not JSON"})
    rig.stream.publish("peaceland.deadletter.mqtt", b"\x00raw", {ERROR_HEADER: "x"})
    for _ in range(2):  # seq 1 delivered twice, never settled: the third delivery is poison
        await rig.stream.fetch(1, 0, 10**9)
        clock.now += 31
    await rig.drain()
    assert rig.stream.terminated == {1}
    assert rig.stream.acked == {2}
    [(key, data)] = rig.store.objects.items()
    assert key.startswith("deadletter/date=")
    assert "/hour=" not in key
    [row] = decode_parquet(data).to_pylist()
    assert (row["payload"], row["reason"], row["source"]) == (b"\x00raw", "x", "mqtt")
    assert rig.deadletters.messages == []  # never dead-lettered again


async def test_stopping_while_the_store_is_down_leaves_messages_unacknowledged() -> None:
    import time

    rig = Rig(clock=time.monotonic, policy=FlushPolicy(10, 10**9, 0.05))
    publish_reports(rig.stream, 30)
    rig.store.go_down()
    stop = asyncio.Event()
    task = asyncio.create_task(rig.pipeline.run(stop))
    await eventually(lambda: rig.store.failed_puts >= 2)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert rig.stream.acked == set()
    assert rig.store.objects == {}


@pytest.mark.parametrize("kind", ["reports", "alerts", "deadletter"])
def test_every_kind_has_a_stream(kind: Kind) -> None:
    assert Rig(kind).pipeline.stream == STREAMS[kind]
