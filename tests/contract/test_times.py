"""The one time grammar of ``--since/--until`` and ``?since=``: every form, the cap, the error,
and the same answer from every caller (alert queries, analytics ranges)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peaceland.analytics import TimeRange
from peaceland.analytics import parse_time as analytics_parse_time
from peaceland.contract import MAX_AGE, InvalidTimeRange, PeacelandError, parse_time
from peaceland.delivery import parse_alert_query, parse_since

NOW = datetime(2026, 11, 28, 10, 30, tzinfo=UTC)
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T10:15:00Z", datetime(2026, 11, 28, 10, 15, tzinfo=UTC)),
        ("2026-11-28T12:15:00+02:00", datetime(2026, 11, 28, 10, 15, tzinfo=UTC)),
        ("2026-11-28T05:15:00-05:00", datetime(2026, 11, 28, 10, 15, tzinfo=UTC)),
        ("2026-11-28T10:15:00.250000Z", datetime(2026, 11, 28, 10, 15, 0, 250000, tzinfo=UTC)),
        ("2026-11-28T10:15:00.123456789Z", datetime(2026, 11, 28, 10, 15, 0, 123456, tzinfo=UTC)),
        ("2026-11-28t10:15:00z", datetime(2026, 11, 28, 10, 15, tzinfo=UTC)),
        ("2026-11-28 10:15:00Z", datetime(2026, 11, 28, 10, 15, tzinfo=UTC)),
        ("2026-11-28T10:15Z", datetime(2026, 11, 28, 10, 15, tzinfo=UTC)),
        ("2026-11-28", datetime(2026, 11, 28, tzinfo=UTC)),
        ("now", NOW),
        (" now ", NOW),
        ("0s", NOW),
        ("90s", NOW - timedelta(seconds=90)),
        ("15m", NOW - timedelta(minutes=15)),
        ("1.5h", NOW - timedelta(minutes=90)),
        ("2h", NOW - timedelta(hours=2)),
        ("7d", NOW - timedelta(days=7)),
        ("\t7d\n", NOW - timedelta(days=7)),
        ("36600d", NOW - timedelta(days=36600)),
    ],
)
def test_every_form(text: str, expected: datetime) -> None:
    parsed = parse_time(text, NOW)
    assert parsed == expected
    assert parsed.tzinfo == UTC


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "soon",
        "yesterday",
        "last week",
        "NOW",
        "2026-11-28T10:15:00",  # no zone
        "20261128",  # a date, but not YYYY-MM-DD
        "10:15",
        "2026-13-01",
        "2026-02-30",
        "-2h",
        "+2h",
        "2w",
        "5 m",
        "5M",
        ".5h",
        "5.h",
        "1e3s",
        "٣d",  # a digit, but not an ASCII one
    ],
)
def test_what_is_not_a_time(text: str) -> None:
    with pytest.raises(InvalidTimeRange) as caught:
        parse_time(text, NOW, "since")
    message = str(caught.value)
    assert message.startswith(f"since {text.strip()!r} is neither RFC 3339")
    for example in ("2026-11-28T10:15:00Z", "2026-11-28", "15m", "now"):
        assert example in message
    assert isinstance(caught.value, PeacelandError)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("text", ["36601d", "99999d", "9" * 400 + "s", "1000000000000d"])
def test_ages_are_capped(text: str) -> None:
    with pytest.raises(InvalidTimeRange, match=r"^until '.*' is too far back"):
        parse_time(text, NOW, "until")


def test_the_cap_is_one_century() -> None:
    assert timedelta(days=36600) == MAX_AGE
    assert parse_time(f"{MAX_AGE.days * 24}h", NOW) == NOW - MAX_AGE


def test_instants_beyond_utc_are_refused() -> None:
    with pytest.raises(InvalidTimeRange, match="out of range"):
        parse_time("0001-01-01T00:00:00+01:00", NOW)


def test_an_age_before_year_one_is_too_far_back() -> None:
    early = datetime(1, 1, 2, tzinfo=UTC)
    with pytest.raises(InvalidTimeRange, match="too far back"):
        parse_time("2d", early)


def test_relative_forms_follow_the_zone_of_now() -> None:
    paris = NOW.astimezone(timezone(timedelta(hours=1)))
    assert parse_time("now", paris) == NOW
    assert parse_time("now", paris).tzinfo == UTC
    assert parse_time("1h", paris) == NOW - timedelta(hours=1)


@given(
    st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False),
    st.sampled_from(sorted(UNITS)),
)
def test_any_age_within_the_cap(amount: Decimal, unit: str) -> None:
    text = f"{amount}{unit}"
    seconds = float(text[:-1]) * UNITS[unit]
    if seconds > MAX_AGE.total_seconds():
        with pytest.raises(InvalidTimeRange, match="too far back"):
            parse_time(text, NOW)
    else:
        assert parse_time(text, NOW) == NOW - timedelta(seconds=seconds)


@given(
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))]
        ),
    )
)
def test_any_instant_round_trips(when: datetime) -> None:
    assert parse_time(when.isoformat(), NOW) == when
    assert parse_time(when.isoformat().replace("+00:00", "Z"), NOW) == when


@given(st.dates(min_value=datetime(1, 1, 1).date(), max_value=datetime(9999, 12, 31).date()))
def test_any_date_is_utc_midnight(day: date) -> None:
    parsed = parse_time(f"{day}", NOW)
    assert (parsed.date(), parsed.time(), parsed.tzinfo) == (day, datetime.min.time(), UTC)


def outcome(parse: Callable[[], datetime | None]) -> datetime | str | None:
    """What a parser made of a text: the instant, or the message of its ``InvalidTimeRange``
    (any other exception fails the test)."""
    try:
        return parse()
    except InvalidTimeRange as exc:
        return str(exc)


@given(st.text(max_size=30))
def test_anything_else_fails_with_the_one_error(text: str) -> None:
    result = outcome(lambda: parse_time(text, NOW, "since"))
    if isinstance(result, str):
        assert result.startswith(f"since {text.strip()!r} ")
    else:
        assert result is not None
        assert result.tzinfo == UTC


@pytest.mark.parametrize(
    "text", ["2026-11-28", "now", "15m", "2026-11-28T10:15:00Z", "36600d", "yesterday", "36601d"]
)
def test_every_caller_speaks_the_same_grammar(text: str) -> None:
    """``alerts tail --since`` / ``?since=`` and ``stats --since`` / ``--until`` agree."""
    parsers: list[Callable[[], datetime | None]] = [
        lambda: parse_since(text, NOW),
        lambda: analytics_parse_time(text, NOW, "since"),
        lambda: parse_alert_query([("since", text)], NOW).since,
        lambda: TimeRange.parse(text, None, NOW).since,
    ]
    outcomes = {outcome(parse) for parse in parsers}
    assert len(outcomes) == 1, outcomes
