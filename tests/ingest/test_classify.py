"""Classifying received bodies: every item becomes a report or a dead letter, nothing else."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from peaceland.contract import ERROR_HEADER, MSG_ID_HEADER
from peaceland.ingest import plan_body


def report(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "drone_id": "pw-0001",
        "ts": "2026-11-28T10:15:00Z",
        "lat": 48.0,
        "lon": 2.0,
        "citizens": [],
        "words": [],
    }
    body.update(fields)
    return body


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_single_valid_report_goes_to_its_drone_subject_with_its_id() -> None:
    raw = encode(report())
    plan = plan_body(raw, "gateway")
    assert not plan.is_batch
    assert plan.errors == []
    [msg] = plan.reports
    assert msg.subject == "peaceland.reports.pw-0001"
    assert msg.payload == raw
    assert msg.all_headers() == {MSG_ID_HEADER: "pw-0001:2026-11-28T10:15:00Z"}


def test_batch_items_keep_their_raw_bytes_and_indexes() -> None:
    items = [report(report_id="a"), report(lat=-91), report(report_id="b")]
    plan = plan_body(encode(items), "gateway")
    assert plan.is_batch
    assert plan.report_indexes == [0, 2]
    assert [json.loads(m.payload) for m in plan.reports] == [items[0], items[2]]
    assert [e.index for e in plan.errors] == [1]
    [dead] = plan.deadletters
    assert dead.subject == "peaceland.deadletter.gateway"
    assert json.loads(dead.payload) == items[1]
    assert dead.headers is not None
    assert dead.headers[ERROR_HEADER] == plan.errors[0].error
    assert "lat" in plan.errors[0].error


def test_not_json_is_one_dead_letter_of_the_whole_body() -> None:
    plan = plan_body(b"{nope", "mqtt")
    assert plan.reports == []
    [dead] = plan.deadletters
    assert dead.payload == b"{nope"
    assert dead.subject == "peaceland.deadletter.mqtt"


def test_oversize_item_is_rejected_with_its_size() -> None:
    raw = encode(report(words=["w" * 100] * 700))
    plan = plan_body(raw, "gateway")
    assert plan.reports == []
    assert plan.errors[0].error == f"payload is {len(raw)} bytes, over the 65536-byte limit"


def test_reason_header_is_one_bounded_line() -> None:
    plan = plan_body(encode(report(drone_id="a\nb" * 600)), "gateway")
    [dead] = plan.deadletters
    assert dead.headers is not None
    reason = dead.headers[ERROR_HEADER]
    assert "\n" not in reason
    assert len(reason) <= 1000


@given(st.binary(max_size=2000))
def test_any_bytes_become_exactly_one_outcome_per_item(body: bytes) -> None:
    plan = plan_body(body, "fuzz")
    outcomes = len(plan.reports) + len(plan.deadletters)
    assert outcomes >= 1
    assert len(plan.errors) == len(plan.deadletters)
    assert sorted(plan.report_indexes + [e.index for e in plan.errors]) == list(range(outcomes))


def test_a_sender_bound_to_one_drone_gets_other_drones_reports_dead_lettered() -> None:
    mine = b'{"drone_id":"d1","ts":"2026-11-28T10:00:00Z","lat":1,"lon":2,"citizens":[],"words":[]}'
    other = mine.replace(b'"d1"', b'"d2"')
    plan = plan_body(b"[" + mine + b"," + other + b"]", "gateway", drone_id="d1")
    assert [m.subject for m in plan.reports] == ["peaceland.reports.d1"]
    assert [e.index for e in plan.errors] == [1]
    assert plan.errors[0].error == "drone_id 'd2' is not this sender's drone 'd1'"
    assert plan.deadletters[0].payload == other
