"""The alerter's pure part: judging a report message, building the outgoing messages."""

from __future__ import annotations

import json
from typing import Any

import pytest

from peaceland.alerting import AlerterOptions
from peaceland.alerting.alerter import AlerterCounters, Verdict, alert_message, judge
from peaceland.alerting.rules import default_rules
from peaceland.contract import MSG_ID_HEADER, decode_alert

RAISED_AT = "2026-11-28T10:15:01.000000Z"
RULES = default_rules()


def payload(drone_id: str = "pw-1", **fields: Any) -> bytes:
    body: dict[str, Any] = {
        "drone_id": drone_id,
        "ts": "2026-11-28T10:15:00Z",
        "lat": 48.85,
        "lon": 2.35,
        "citizens": [{"name": "Calm", "peacescore": 70}, {"name": "Agitated", "peacescore": 4}],
        "words": ["bonjour"],
    }
    body.update(fields)
    return json.dumps(body).encode()


def test_valid_report_gives_its_alerts() -> None:
    verdict = judge("peaceland.reports.pw-1", payload(), RULES, RAISED_AT)
    assert verdict.reason is None
    [alert] = verdict.alerts
    assert (alert.alert_id, alert.citizen, alert.severity) == (
        "pw-1:2026-11-28T10:15:00Z/1",
        "Agitated",
        "critical",
    )
    assert alert.raised_at == RAISED_AT


def test_calm_report_gives_nothing() -> None:
    assert judge("peaceland.reports.pw-1", payload(citizens=[]), RULES, RAISED_AT) == Verdict()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe", "not valid UTF-8"),
        (b"{", "not JSON"),
        (b"[]", "JSON but not an object"),
        (payload(lat=91), "lat 91 out of range -90..90"),
        (payload(citizens=[{"name": "X"}]), "missing required field 'citizens[0].peacescore'"),
        (b" " * 70_000, "over the 65536-byte limit"),
    ],
)
def test_invalid_payload_gives_the_reason(data: bytes, reason: str) -> None:
    verdict = judge("peaceland.reports.pw-1", data, RULES, RAISED_AT)
    assert verdict.alerts == ()
    assert verdict.reason is not None
    assert reason in verdict.reason


@pytest.mark.parametrize(
    "subject",
    [
        "peaceland.reports.pw-2",
        "peaceland.reports.pw-1.extra",
        "peaceland.reports.",
        "peaceland.other.pw-1",
    ],
)
def test_a_drone_cannot_speak_for_another(subject: str) -> None:
    verdict = judge(subject, payload("pw-1"), RULES, RAISED_AT)
    assert verdict.alerts == ()
    assert verdict.reason == f"drone_id 'pw-1' does not match the subject {subject!r}"


def test_alert_message_subject_id_and_body() -> None:
    [alert] = judge("peaceland.reports.pw-1", payload(), RULES, RAISED_AT).alerts
    message = alert_message(alert)
    assert message.subject == "peaceland.alerts.pw-1"
    assert message.all_headers() == {MSG_ID_HEADER: alert.alert_id}
    assert decode_alert(message.payload) == alert


def test_defaults_are_the_contract_durable_on_the_whole_stream() -> None:
    spec = AlerterOptions().consumer_spec()
    assert (spec.stream, spec.durable, spec.filter_subject) == ("REPORTS", "alerter", None)
    assert spec.config().max_deliver == 10


def test_counters_snapshot() -> None:
    counters = AlerterCounters(reports_seen=3, alerts_raised=1)
    snapshot = counters.snapshot()
    assert snapshot["reports_seen"] == 3
    assert snapshot["alerts_raised"] == 1
    assert set(snapshot) >= {"reports_seen", "alerts_raised", "dead_letters", "lag"}
