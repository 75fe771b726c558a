"""The incident store on the in-memory key-value twin: compare-and-set under concurrent writers,
archiving, lookups and listing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from peaceland.contract import Alert, IllegalTransition, UnknownIncident
from peaceland.delivery import IncidentStore
from peaceland.delivery.incident_store import ARCHIVE_PREFIX, CITIZEN_PREFIX
from peaceland.delivery.incidents import CitizenRecord, attach, citizen_key
from peaceland.testing import MemoryKeyValue

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def alert(n: int, citizen: str = "Cosette") -> Alert:
    ts = T0 + timedelta(minutes=n)
    return Alert(
        alert_id=f"d:{n}/0",
        report_id=f"d:{n}",
        drone_id="d",
        ts=ts,
        lat=1.0,
        lon=2.0,
        citizen=citizen,
        peacescore=3,
        severity="critical",
        words=[],
        raised_at="2026-11-28T10:00:00.000000Z",
    )


@pytest.fixture
def kv() -> MemoryKeyValue:
    return MemoryKeyValue()


@pytest.fixture
def store(kv: MemoryKeyValue) -> IncidentStore:
    return IncidentStore(kv, clock=lambda: T0)


async def test_alerts_group_and_redelivery_is_a_no_op(
    store: IncidentStore, kv: MemoryKeyValue
) -> None:
    outcomes = [(await store.record_alert(alert(n), n)).outcome for n in (1, 2, 3)]
    writes = kv.writes
    again = await store.record_alert(alert(2), 2)
    assert outcomes == ["opened", "attached", "attached"]
    assert again.outcome == "duplicate"
    assert kv.writes == writes
    incident = await store.get(again.incident_id)
    assert incident.count == 3


async def test_a_concurrent_write_is_retried_not_lost(
    store: IncidentStore, kv: MemoryKeyValue
) -> None:
    await store.record_alert(alert(1), 1)
    key = CITIZEN_PREFIX + citizen_key("Cosette")
    sneaked = False

    def sneak(written: str) -> None:
        # Another builder counts alert 9 between our read and our write, once.
        nonlocal sneaked
        if written == key and not sneaked:
            sneaked = True
            value, _ = kv.data[key]
            record = msgspec.json.decode(value, type=CitizenRecord)
            record = attach(record, alert(9), 9, T0).record
            kv._store(key, msgspec.json.encode(record))

    kv.before_write = sneak
    await store.record_alert(alert(2), 2)
    incident = (await store.incidents())[0]
    assert sneaked
    assert incident.count == 3
    assert set(incident.alert_ids) == {alert(n).alert_id for n in (1, 2, 9)}


async def test_concurrent_builders_and_officers_lose_nothing(store: IncidentStore) -> None:
    first = await store.record_alert(alert(0), 0)
    await asyncio.gather(
        *(store.record_alert(alert(n), n) for n in range(1, 40)),
        store.act(first.incident_id, "ack", "Javert", None),
    )
    incident = await store.get(first.incident_id)
    assert (incident.count, incident.status) == (40, "acknowledged")


async def test_transitions_and_their_refusals(store: IncidentStore) -> None:
    opened = await store.record_alert(alert(1), 1)
    acked = await store.act(opened.incident_id, "ack", "Javert", "on my way")
    assert acked.acknowledged is not None
    assert (acked.status, acked.acknowledged.by, acked.acknowledged.note) == (
        "acknowledged",
        "Javert",
        "on my way",
    )
    resolved = await store.act(opened.incident_id, "resolve", "Javert", None)
    assert resolved.status == "resolved"
    with pytest.raises(IllegalTransition, match="already resolved"):
        await store.act(opened.incident_id, "resolve", "Javert", None)
    with pytest.raises(IllegalTransition, match="cannot be acknowledged"):
        await store.act(opened.incident_id, "ack", "Javert", None)


async def test_unknown_ids_are_unknown(store: IncidentStore) -> None:
    opened = await store.record_alert(alert(1), 1)
    key = opened.incident_id.rsplit("-", 1)[0]
    for bad in ["nope", f"{key}-2", f"{'0' * 16}-1"]:
        with pytest.raises(UnknownIncident):
            await store.get(bad)
        with pytest.raises(UnknownIncident):
            await store.act(bad, "ack", "J", None)


async def test_a_replaced_incident_is_archived_and_still_found(
    store: IncidentStore, kv: MemoryKeyValue
) -> None:
    first = await store.record_alert(alert(1), 1)
    await store.act(first.incident_id, "resolve", "Javert", None)
    second = await store.record_alert(alert(2), 2)
    assert second.outcome == "opened"
    assert second.incident_id != first.incident_id
    assert ARCHIVE_PREFIX + first.incident_id in kv.data
    old = await store.get(first.incident_id)
    assert (old.status, old.count) == ("resolved", 1)
    with pytest.raises(IllegalTransition, match="already resolved"):
        await store.act(first.incident_id, "resolve", "J", None)
    listed = await store.incidents()
    assert [i.incident_id for i in listed] == [second.incident_id, first.incident_id]
    assert [i.incident_id for i in await store.incidents(["open"])] == [second.incident_id]
    assert [i.incident_id for i in await store.incidents(["resolved"])] == [first.incident_id]


async def test_listing_is_newest_first_and_limited(store: IncidentStore) -> None:
    for n, citizen in enumerate(["A", "B", "C", "D"]):
        await store.record_alert(alert(n, citizen), n)
    listed = await store.incidents(limit=3)
    assert [i.citizen for i in listed] == ["D", "C", "B"]


async def test_alert_statuses(store: IncidentStore) -> None:
    opened = await store.record_alert(alert(1), 1)
    await store.act(opened.incident_id, "ack", "J", None)
    statuses = await store.alert_statuses([(alert(1), 1), (alert(5, "Nobody"), 5)])
    assert statuses == [("acknowledged", opened.incident_id), ("open", None)]
