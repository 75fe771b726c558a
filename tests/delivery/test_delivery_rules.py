"""Pure pieces of alert delivery: webhook policy, query parameters, SSE framing and parsing,
the SSE listener's bounds, terminal lines."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from peaceland.cli.alerts_view import age, alert_line, incident_table
from peaceland.config import load_settings
from peaceland.contract import Alert, ConfigError, encode_alert
from peaceland.delivery import (
    StoredAlert,
    parse_alert_query,
    parse_event_id,
    parse_incident_query,
    parse_since,
)
from peaceland.delivery.incidents import attach
from peaceland.delivery.webhook_policy import (
    backoff,
    endpoint_id,
    redact,
    retry_after,
    sign,
    verdict,
    verify,
)
from peaceland.web.sse import Listener, event_bytes
from peaceland.web.sse_client import Event, EventParser

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ALERT = Alert(
    alert_id="pw-7:2026-11-28T11:58:30Z/1",
    report_id="pw-7:2026-11-28T11:58:30Z",
    drone_id="pw-7",
    ts=datetime(2026, 11, 28, 11, 58, 30, tzinfo=UTC),
    lat=48.856613,
    lon=2.352222,
    citizen="Thénardier",
    peacescore=2,
    severity="critical",
    words=["émeute"],
    raised_at="2026-11-28T11:58:30.001000Z",
)


# --- webhooks -------------------------------------------------------------------------------


def test_signature_is_hmac_sha256_of_the_exact_body() -> None:
    body = encode_alert(ALERT)
    expected = hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert sign("k", body) == f"sha256={expected}"
    assert verify("k", body, f"sha256={expected}")
    assert not verify("k", body + b" ", f"sha256={expected}")
    assert not verify("other", body, f"sha256={expected}")
    assert not verify("k", body, None)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, "delivered"),
        (202, "delivered"),
        (204, "delivered"),
        (None, "retry"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (408, "retry"),
        (425, "retry"),
        (429, "retry"),
        (400, "reject"),
        (401, "reject"),
        (404, "reject"),
        (410, "reject"),
        (422, "reject"),
        (301, "reject"),
        (302, "reject"),
        (100, "reject"),
    ],
)
def test_what_an_answer_means(status: int | None, expected: str) -> None:
    assert verdict(status) == expected


def test_backoff_doubles_up_to_the_cap_with_bounded_jitter() -> None:
    assert [backoff(n, 1.0, 60.0) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff(1, 1.0, 60.0, jitter=0.0) == 0.75
    assert backoff(3, 1.0, 60.0, jitter=0.999) == pytest.approx(4 * 1.2495)
    assert backoff(10**9, 1.0, 60.0, jitter=0.999) == 60.0  # never above the cap
    assert backoff(0, 0.5, 60.0) == 0.5


@given(st.integers(0, 10**6), st.floats(0, 0.9999))
def test_backoff_is_always_within_bounds(attempt: int, jitter: float) -> None:
    assert 0.75 * 0.1 <= backoff(attempt, 0.1, 30.0, jitter) <= 30.0


def test_retry_after_seconds_are_capped_and_dates_ignored() -> None:
    assert retry_after("7", 60.0) == 7.0
    assert retry_after("3600", 60.0) == 60.0
    assert retry_after("Wed, 21 Oct 2026 07:28:00 GMT", 60.0) is None
    assert retry_after(None, 60.0) is None


def test_urls_are_named_without_their_secrets() -> None:
    url = "https://user:pw@ops.example:8443/hooks/alerts?token=s3cret#x"
    assert redact(url) == "https://ops.example:8443/hooks/alerts"
    assert redact("http://[::1]:8080/h") == "http://[::1]:8080/h"
    assert len(endpoint_id(url)) == 12
    assert endpoint_id(url) != endpoint_id(url.replace("s3cret", "other"))


def test_webhook_settings() -> None:
    env = {
        "PEACELAND_WEBHOOK_URLS": " https://a.example/h , http://b.example:81/x,,https://a.example/h",
        "PEACELAND_WEBHOOK_SECRET": "k3y",
    }
    settings = load_settings(environ=env, cwd=None)
    assert settings.webhook_urls == ("https://a.example/h", "http://b.example:81/x")
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.reveal() == "k3y"
    assert "k3y" not in repr(settings)
    assert load_settings(environ={}).webhook_urls == ()
    for bad in ["ftp://x/y", "a.example/h", "https://", "http:///path"]:
        with pytest.raises(ConfigError, match="PEACELAND_WEBHOOK_URLS"):
            load_settings(environ={"PEACELAND_WEBHOOK_URLS": bad})


# --- query parameters -----------------------------------------------------------------------


def test_since_takes_rfc3339_or_an_age() -> None:
    assert parse_since("2026-11-28T10:15:00Z", NOW) == datetime(2026, 11, 28, 10, 15, tzinfo=UTC)
    assert parse_since("2026-11-28T11:15:00+01:00", NOW) == datetime(
        2026, 11, 28, 10, 15, tzinfo=UTC
    )
    assert parse_since("90s", NOW) == NOW - timedelta(seconds=90)
    assert parse_since("15m", NOW) == NOW - timedelta(minutes=15)
    assert parse_since("1.5h", NOW) == NOW - timedelta(minutes=90)
    assert parse_since("7d", NOW) == NOW - timedelta(days=7)
    for bad in ["", "yesterday", "2026-11-28T10:15:00", "-5m", "5 m", "5w", "99999d"]:
        with pytest.raises(ValueError, match="since"):
            parse_since(bad, NOW)


def test_alert_query_defaults_and_values() -> None:
    query = parse_alert_query([], NOW)
    assert (query.limit, query.since, query.before, query.statuses, query.severities) == (
        100,
        None,
        None,
        None,
        None,
    )
    query = parse_alert_query(
        [
            ("limit", "1000"),
            ("status", "open,acknowledged"),
            ("status", "open"),
            ("severity", "critical"),
            ("before", "42"),
            ("since", "1h"),
        ],
        NOW,
    )
    assert query.limit == 1000
    assert query.statuses == frozenset({"open", "acknowledged"})
    assert query.severities == frozenset({"critical"})
    assert (query.before, query.since) == (42, NOW - timedelta(hours=1))
    assert parse_incident_query([("status", "resolved")]).statuses == frozenset({"resolved"})
    with pytest.raises(ValueError, match="unknown parameter 'since'"):
        parse_incident_query([("since", "1h")])


def test_event_ids_are_sequences() -> None:
    assert parse_event_id(" 17 ") == 17
    assert parse_event_id("0") == 0
    for bad in ["", "x", "-1", "1.5", "١٢", "9" * 30]:
        with pytest.raises(ValueError, match="Last-Event-ID"):
            parse_event_id(bad)


# --- SSE --------------------------------------------------------------------------------------


def stored(seq: int, payload: bytes | None = None) -> StoredAlert:
    return StoredAlert(seq, NOW, payload or encode_alert(ALERT), ALERT)


def test_an_event_is_id_type_and_data() -> None:
    assert event_bytes(stored(12, b'{"a": 1}')) == b'id: 12\nevent: alert\ndata: {"a": 1}\n\n'
    assert event_bytes(stored(3, b'{"a":\n1}')) == b'id: 3\nevent: alert\ndata: {"a":\ndata: 1}\n\n'


def parse(text: str) -> tuple[list[Event], EventParser]:
    parser = EventParser()
    events = [e for line in text.split("\n") if (e := parser.feed(line)) is not None]
    return events, parser


def test_the_client_parses_what_the_server_writes() -> None:
    stream = (b"retry: 1000\n: following ALERTS\n\n" + event_bytes(stored(5))).decode()
    stream += ": keep-alive\n\n" + event_bytes(stored(6, b'{"x":\n2}')).decode()
    events, parser = parse(stream)
    assert [(e.id, e.event) for e in events] == [("5", "alert"), ("6", "alert")]
    assert events[0].data == encode_alert(ALERT).decode()
    assert events[1].data == '{"x":\n2}'
    assert parser.comments == 2
    assert parser.last_id == "6"


def test_the_parser_follows_the_sse_rules() -> None:
    events, _ = parse("data:no space\nevent:x\n\nid: 9\n\ndata: a\ndata: b\n\n")
    assert [(e.id, e.event, e.data) for e in events] == [
        (None, "x", "no space"),
        ("9", "message", "a\nb"),
    ]


async def test_a_listener_that_falls_behind_is_ended_not_unbounded() -> None:
    listener = Listener(start=0, limit=3)
    for seq in range(1, 6):
        listener.push(stored(seq))
    assert listener.overflowed
    got = [await listener.next(0.01) for _ in range(3)]
    assert [item.seq for item in got if item] == [1, 2, 3]
    assert listener.ended
    assert await listener.next(0.01) is None


async def test_a_listener_wakes_on_push_and_on_close() -> None:
    listener = Listener(start=0, limit=10)
    waiting = asyncio.create_task(listener.next(5))
    await asyncio.sleep(0)
    listener.push(stored(1))
    assert (await waiting) == stored(1)
    assert await listener.next(0.01) is None  # a heartbeat's timeout
    waiting = asyncio.create_task(listener.next(5))
    await asyncio.sleep(0)
    listener.close()
    assert await waiting is None
    assert listener.ended


# --- terminal ---------------------------------------------------------------------------------


def test_ages_are_compact() -> None:
    assert [age(s) for s in (-3, 0, 59.9, 60, 3599, 3600, 86400 * 3)] == [
        "0s",
        "0s",
        "59s",
        "1m",
        "59m",
        "1h",
        "3d",
    ]


def test_an_alert_line_has_all_an_officer_needs() -> None:
    line = alert_line(ALERT, NOW)
    assert line.plain == (
        "2026-11-28 11:58:30   CRITICAL   Thénardier (2)  drone pw-7  at 48.85661, 2.35222  1m ago"
    )
    assert any("red" in str(span.style) for span in line.spans)


def test_incident_table_renders() -> None:
    record = attach(None, ALERT, 1, NOW).record
    console = Console(width=200, record=True)
    console.print(incident_table([record.incident], NOW))
    text = console.export_text()
    assert record.incident.incident_id in text
    assert "Thénardier (2)" in text
    assert "1m ago" in text
