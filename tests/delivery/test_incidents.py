"""The incident state machine and grouping: every transition, idempotence, ordering. Pure."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from peaceland.contract import Alert, IllegalTransition, Severity, UnknownIncident
from peaceland.delivery import Action, Incident, decode_request
from peaceland.delivery.incidents import (
    ACTIONS,
    MAX_ALERT_IDS,
    MAX_EARLIER_IDS,
    STATUSES,
    CitizenRecord,
    act,
    act_on_record,
    alert_status,
    attach,
    citizen_key,
    open_incident,
    parse_incident_id,
)

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def alert(
    n: int,
    citizen: str = "Jean Valjean",
    score: int = 10,
    severity: Severity = "major",
    *,
    minute: int | None = None,
    drone: str = "pw-1",
) -> Alert:
    ts = T0 + timedelta(minutes=n if minute is None else minute)
    return Alert(
        alert_id=f"{drone}:{ts.isoformat()}/0",
        report_id=f"{drone}:{ts.isoformat()}",
        drone_id=drone,
        ts=ts,
        lat=48.0 + n / 100,
        lon=2.0 + n / 100,
        citizen=citizen,
        peacescore=score,
        severity=severity,
        words=["x"],
        raised_at="2026-11-28T10:00:00.000000Z",
    )


def build(*alerts: Alert) -> CitizenRecord:
    record: CitizenRecord | None = None
    for seq, a in enumerate(alerts, start=1):
        record = attach(record, a, seq, NOW).record
    assert record is not None
    return record


def with_status(status: str) -> Incident:
    incident = open_incident("Jean", 1, alert(0), 1, NOW)
    if status in ("acknowledged", "resolved"):
        incident = act(incident, "ack", "Javert", None, NOW)
    if status == "resolved":
        incident = act(incident, "resolve", "Javert", "done", NOW)
    return incident


# --- grouping -------------------------------------------------------------------------------


def test_first_alert_opens_an_incident() -> None:
    result = attach(None, alert(1), 7, NOW)
    incident = result.record.incident
    assert result.outcome == "opened"
    assert result.archive is None
    assert result.record.generation == 1
    assert incident.incident_id == f"{citizen_key('Jean Valjean')}-1"
    assert (incident.status, incident.count, incident.first_seq, incident.last_seq) == (
        "open",
        1,
        7,
        7,
    )
    assert incident.alert_ids == (alert(1).alert_id,)


def test_three_alerts_for_one_citizen_make_one_incident() -> None:
    record = build(
        alert(1, score=15, severity="minor"),
        alert(2, score=3, severity="critical"),
        alert(3, score=11, severity="major", drone="pw-9"),
    )
    incident = record.incident
    assert incident.count == 3
    assert incident.severity == "critical"
    assert incident.peacescore == 3
    assert (incident.first_seen, incident.last_seen) == (
        T0 + timedelta(minutes=1),
        T0 + timedelta(minutes=3),
    )
    assert (incident.lat, incident.lon, incident.drone_id) == (48.03, 2.03, "pw-9")
    assert len(incident.alert_ids) == 3


def test_position_is_the_latest_report_whatever_the_arrival_order() -> None:
    record = build(alert(5), alert(2), alert(4))
    incident = record.incident
    assert (incident.lat, incident.drone_id) == (48.05, "pw-1")
    assert (incident.first_seen, incident.last_seen) == (
        T0 + timedelta(minutes=2),
        T0 + timedelta(minutes=5),
    )


def test_a_redelivered_alert_is_counted_once() -> None:
    record = build(alert(1), alert(2))
    again = attach(record, alert(1), 99, NOW)
    assert again.outcome == "duplicate"
    assert again.record is record


def test_acknowledged_incidents_still_group_alerts() -> None:
    record = build(alert(1))
    record = act_on_record(record, record.incident.incident_id, "ack", "Javert", None, NOW)
    result = attach(record, alert(2), 2, NOW)
    assert result.outcome == "attached"
    assert result.record.incident.status == "acknowledged"
    assert result.record.incident.count == 2


def test_after_resolve_a_new_alert_opens_a_new_incident_and_archives_the_old() -> None:
    record = build(alert(1), alert(2))
    first_id = record.incident.incident_id
    record = act_on_record(record, first_id, "resolve", "Javert", "calm again", NOW)
    result = attach(record, alert(3), 3, NOW)
    assert result.outcome == "opened"
    assert result.archive is not None
    assert result.archive.incident_id == first_id
    assert result.archive.status == "resolved"
    assert result.record.generation == 2
    assert result.record.incident.incident_id.endswith("-2")
    assert result.record.incident.count == 1
    assert set(result.record.earlier_alert_ids) == {alert(1).alert_id, alert(2).alert_id}


def test_a_late_redelivery_after_resolve_does_not_open_a_new_incident() -> None:
    record = build(alert(1))
    record = act_on_record(record, record.incident.incident_id, "resolve", "J", None, NOW)
    record = attach(record, alert(2), 2, NOW).record
    assert attach(record, alert(1), 1, NOW).outcome == "duplicate"


def test_alert_ids_are_bounded_but_the_count_is_not() -> None:
    alerts = [alert(n) for n in range(MAX_ALERT_IDS + 30)]
    record = build(*alerts)
    assert record.incident.count == MAX_ALERT_IDS + 30
    assert record.incident.alert_ids == tuple(a.alert_id for a in alerts[-MAX_ALERT_IDS:])
    record = act_on_record(record, record.incident.incident_id, "resolve", "J", None, NOW)
    record = attach(record, alert(10_000), 10_000, NOW).record
    assert len(record.earlier_alert_ids) == MAX_EARLIER_IDS


def test_two_citizens_sharing_a_key_are_never_merged() -> None:
    record = build(alert(1, citizen="A"))
    impostor = msgspec.structs.replace(record, citizen="B")
    with pytest.raises(ValueError, match="already holds"):
        attach(impostor, alert(2, citizen="A"), 2, NOW)


@given(st.permutations(list(range(8))), st.lists(st.integers(0, 7), max_size=8))
def test_any_order_with_any_redeliveries_counts_each_alert_once(
    order: list[int], repeats: list[int]
) -> None:
    scores = [1, 19, 7, 12, 4, 15, 11, 2]
    alerts = [alert(n, score=scores[n], severity="minor") for n in range(8)]
    record: CitizenRecord | None = None
    for n in [*order, *repeats]:
        record = attach(record, alerts[n], n + 1, NOW).record
    assert record is not None
    incident = record.incident
    assert incident.count == 8
    assert incident.peacescore == 1
    assert (incident.first_seq, incident.last_seq) == (1, 8)
    assert incident.lat == alerts[7].lat  # the latest report, whatever the order


# --- transitions ----------------------------------------------------------------------------

ALLOWED = {("open", "ack"), ("open", "resolve"), ("acknowledged", "resolve")}


@pytest.mark.parametrize(("status", "action"), list(itertools.product(STATUSES, ACTIONS)))
def test_every_transition_is_allowed_or_refused_with_a_reason(status: str, action: Action) -> None:
    incident = with_status(status)
    if (status, action) in ALLOWED:
        after = act(incident, action, "Fantine", "note", NOW)
        assert after.status == ("acknowledged" if action == "ack" else "resolved")
        change = after.acknowledged if action == "ack" else after.resolved
        assert change is not None
        assert (change.by, change.note, change.at) == ("Fantine", "note", NOW)
        assert after.updated_at == NOW
    else:
        with pytest.raises(IllegalTransition, match=incident.incident_id) as caught:
            act(incident, action, "Fantine", None, NOW)
        assert "Javert" in str(caught.value)


def test_refusals_say_what_happened() -> None:
    with pytest.raises(IllegalTransition, match="already resolved by Javert"):
        act(with_status("resolved"), "resolve", "X", None, NOW)
    with pytest.raises(IllegalTransition, match=r"is resolved by Javert .*cannot be acknowledged"):
        act(with_status("resolved"), "ack", "X", None, NOW)
    with pytest.raises(IllegalTransition, match="already acknowledged by Javert"):
        act(with_status("acknowledged"), "ack", "X", None, NOW)


def test_acting_on_a_record_needs_its_latest_incident() -> None:
    record = build(alert(1))
    with pytest.raises(UnknownIncident):
        act_on_record(record, record.incident.incident_id[:-1] + "9", "ack", "J", None, NOW)


# --- ids, statuses, requests ------------------------------------------------------------------


def test_incident_ids_round_trip_and_reject_anything_else() -> None:
    key = citizen_key("Zoë 🕊")
    assert len(key) == 16
    assert parse_incident_id(f"{key}-12") == (key, 12)
    for bad in [
        "",
        "x",
        f"{key}-0",
        f"{key}-01",
        f"{key}",
        f"{key.upper()}-1",
        f"{key}-1\n",
        "../x",
    ]:
        with pytest.raises(UnknownIncident):
            parse_incident_id(bad)


def test_alert_status_follows_its_incident() -> None:
    a1, a2, a3 = alert(1), alert(2), alert(3)
    assert alert_status(None, a1.alert_id, 1) == ("open", None)
    record = build(a1, a2)
    first = record.incident.incident_id
    assert alert_status(record, a1.alert_id, 1) == ("open", first)
    assert alert_status(record, a3.alert_id, 3) == ("open", first)  # will join it
    record = act_on_record(record, first, "ack", "J", None, NOW)
    assert alert_status(record, a2.alert_id, 2) == ("acknowledged", first)
    record = act_on_record(record, first, "resolve", "J", None, NOW)
    assert alert_status(record, a3.alert_id, 3) == ("open", None)  # will open a new one
    record = attach(record, a3, 3, NOW).record
    assert alert_status(record, a1.alert_id, 1) == ("resolved", None)
    assert alert_status(record, a3.alert_id, 3) == ("open", record.incident.incident_id)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{", msgspec.DecodeError),
        (b"[]", msgspec.ValidationError),
        (b"{}", msgspec.ValidationError),
        (b'{"by": ""}', msgspec.ValidationError),
        (b'{"by": "   "}', msgspec.ValidationError),
        (b'{"by": "a\\nb"}', msgspec.ValidationError),
        (b'{"by": 3}', msgspec.ValidationError),
        (b'{"by": "J", "extra": 1}', msgspec.ValidationError),
        (b'{"by": "J", "note": "' + b"n" * 2001 + b'"}', msgspec.ValidationError),
    ],
)
def test_bad_requests_are_refused(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_request(body)


def test_requests_are_trimmed() -> None:
    request = decode_request(b'{"by": " Javert ", "note": "  "}')
    assert (request.by, request.note) == ("Javert", None)
