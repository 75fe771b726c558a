"""Archive rows: messages → Arrow columns (values exact), rejects, Parquet round trips."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from peaceland.archive.kinds import ALERTS_KIND, DEADLETTER_KIND, REPORTS_KIND, ArchiveKind
from peaceland.archive.parquet import decode_parquet, leaf_paths
from peaceland.archive.rows import Received, RowFormat
from peaceland.contract import REPORTS_PREFIX, Alert, encode_alert

T0_NS = 1_795_000_000_123_456_789  # a JetStream timestamp, ns


def report(drone: str = "pw-0001", **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "drone_id": drone,
        "ts": "2026-11-28T10:15:00Z",
        "lat": 48.85,
        "lon": 2.35,
        "citizens": [{"name": "Ada", "peacescore": 80}, {"name": "Bob", "peacescore": 3}],
        "words": ["bonjour", "calme"],
    }
    body.update(fields)
    return body


def received(*items: tuple[dict[str, Any] | bytes, str], reason: str | None = None) -> Received:
    out = Received()
    for index, (item, subject) in enumerate(items):
        payload = item if isinstance(item, bytes) else json.dumps(item).encode()
        out.append(payload, 100 + index, T0_NS + index * 1000, subject, reason)
    return out


def on_subject(body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    return body, REPORTS_PREFIX + body["drone_id"]


def test_report_columns_hold_the_exact_values() -> None:
    extra = report("pw-0002", ts="2026-11-28T11:00:00.5+01:00", weather={"rain": True}, n=7)
    built = REPORTS_KIND.build(
        received(on_subject(report()), on_subject(report("pw-0003", citizens=[], words=[])))
    )
    assert built.rejected == []
    rows = built.batch.to_pylist()
    assert rows[0] == {
        "report_id": "pw-0001:2026-11-28T10:15:00Z",
        "drone_id": "pw-0001",
        "ts": datetime(2026, 11, 28, 10, 15, tzinfo=UTC),
        "lat": 48.85,
        "lon": 2.35,
        "citizens": [{"name": "Ada", "peacescore": 80}, {"name": "Bob", "peacescore": 3}],
        "words": ["bonjour", "calme"],
        "extra": None,
        "received_at": datetime(2026, 11, 18, 11, 6, 40, 123456, tzinfo=UTC),
        "stream_seq": 100,
    }
    assert rows[1]["citizens"] == []
    assert rows[1]["words"] == []
    [row] = REPORTS_KIND.build(received(on_subject(extra))).batch.to_pylist()
    assert row["ts"] == datetime(2026, 11, 28, 10, 0, 0, 500000, tzinfo=UTC)  # in UTC
    assert row["report_id"] == "pw-0002:2026-11-28T11:00:00.5+01:00"  # ts as sent
    assert json.loads(row["extra"]) == {"weather": {"rain": True}, "n": 7}


def test_schema_types_are_what_the_views_expect() -> None:
    schema = REPORTS_KIND.schema
    assert str(schema.field("ts").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("citizens").type) == (
        "list<item: struct<name: string, peacescore: int32>>"
    )
    assert str(schema.field("words").type) == "list<item: string>"
    assert schema.names[:9] == [
        "report_id",
        "drone_id",
        "ts",
        "lat",
        "lon",
        "citizens",
        "words",
        "extra",
        "received_at",
    ]
    assert ALERTS_KIND.schema.names[:11] == list(Alert.__struct_fields__)
    assert leaf_paths(schema)[5:8] == [
        "citizens.list.element.name",
        "citizens.list.element.peacescore",
        "words.list.element",
    ]


def test_invalid_reports_are_rejected_with_the_reason_and_the_rest_kept() -> None:
    built = REPORTS_KIND.build(
        received(
            on_subject(report()),
            (b"not json", "peaceland.reports.pw-0001"),
            on_subject(report(lat=91)),
            (report("pw-0009"), "peaceland.reports.pw-0001"),  # speaks for another drone
            on_subject(report("pw-0004")),
        )
    )
    assert built.kept == [0, 4]
    assert [i for i, _ in built.rejected] == [1, 2, 3]
    reasons = [reason for _, reason in built.rejected]
    assert reasons[0].startswith("not JSON")
    assert "lat" in reasons[1]
    assert reasons[2] == (
        "drone_id 'pw-0009' does not match the subject 'peaceland.reports.pw-0001'"
    )
    assert built.batch.column("stream_seq").to_pylist() == [100, 104]


def test_a_value_arrow_cannot_take_is_isolated_not_the_whole_batch() -> None:
    def columns(items: list[Any], got: Received, kept: list[int]) -> list[pa.Array]:
        return [pa.array(items, pa.int8()), pa.array([got.seqs[i] for i in kept], pa.int64())]

    fmt = RowFormat(
        kind="deadletter",
        schema=pa.schema([("value", pa.int8()), ("stream_seq", pa.int64())]),
        decode=lambda payload, subject: int(payload),
        columns=columns,
    )
    got = Received()
    for seq, payload in enumerate([b"1", b"1000", b"3"]):
        got.append(payload, seq, 0, "s", None)
    built = fmt.build(got)
    assert built.batch.to_pylist() == [
        {"value": 1, "stream_seq": 0},
        {"value": 3, "stream_seq": 2},
    ]
    assert built.kept == [0, 2]
    [(index, reason)] = built.rejected
    assert index == 1
    assert reason.startswith("cannot be archived")
    got = Received()
    got.append(b"999", 1, 0, "s", None)
    assert fmt.build(got).batch.num_rows == 0


def test_alerts_keep_every_field_and_reject_what_is_not_an_alert() -> None:
    alert = Alert(
        alert_id="pw-0001:2026-11-28T10:15:00Z/1",
        report_id="pw-0001:2026-11-28T10:15:00Z",
        drone_id="pw-0001",
        ts=datetime(2026, 11, 28, 10, 15, tzinfo=UTC),
        lat=48.85,
        lon=2.35,
        citizen="Bob",
        peacescore=3,
        severity="critical",
        words=["bonjour"],
        raised_at="2026-11-28T10:15:00.250000Z",
    )
    got = Received()
    got.append(encode_alert(alert), 5, T0_NS, "peaceland.alerts.pw-0001", None)
    got.append(b'{"alert_id": 1}', 6, T0_NS, "peaceland.alerts.pw-0001", None)
    built = ALERTS_KIND.build(got)
    [row] = built.batch.to_pylist()
    assert row["raised_at"] == datetime(2026, 11, 28, 10, 15, 0, 250000, tzinfo=UTC)
    assert {k: row[k] for k in ("alert_id", "citizen", "peacescore", "severity", "words")} == {
        "alert_id": alert.alert_id,
        "citizen": "Bob",
        "peacescore": 3,
        "severity": "critical",
        "words": ["bonjour"],
    }
    [(index, reason)] = built.rejected
    assert index == 1
    assert reason.startswith("not an alert")


def test_dead_letters_keep_the_raw_bytes_and_the_reason() -> None:
    raw = b"\xff\x00 not even utf-8"
    got = received((raw, "peaceland.deadletter.gateway"), reason="not valid UTF-8")
    [row] = DEADLETTER_KIND.build(got).batch.to_pylist()
    assert row["payload"] == raw
    assert (row["source"], row["reason"], row["subject"]) == (
        "gateway",
        "not valid UTF-8",
        "peaceland.deadletter.gateway",
    )


def test_parquet_round_trip_keeps_schema_and_values() -> None:
    built = REPORTS_KIND.build(
        received(on_subject(report()), on_subject(report("pw-0002", extra_field=[1, 2])))
    )
    table = pa.Table.from_batches([built.batch])
    data = REPORTS_KIND.to_parquet(table)
    assert data[:4] == b"PAR1"
    back = decode_parquet(data)
    assert back.schema.equals(REPORTS_KIND.schema)
    assert back.to_pylist() == table.to_pylist()


def test_empty_input_builds_an_empty_batch() -> None:
    built = REPORTS_KIND.build(Received())
    assert built.batch.num_rows == 0
    assert built.batch.schema.equals(REPORTS_KIND.schema)


@pytest.mark.parametrize("fmt", [REPORTS_KIND, ALERTS_KIND, DEADLETTER_KIND])
def test_every_format_has_the_columns_naming_and_partitioning_need(fmt: ArchiveKind) -> None:
    for name in ("stream_seq", "received_at", fmt.time_column, *fmt.sort_keys):
        assert name in fmt.schema.names
