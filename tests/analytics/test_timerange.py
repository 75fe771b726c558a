"""``--since/--until`` parsing and the partitions a time range reads. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from peaceland.analytics import TimeRange
from peaceland.analytics.timerange import (
    MAX_DAY_GLOBS,
    MAX_HOUR_GLOBS,
    folder,
    parse_time,
    scan_plan,
)
from peaceland.contract import InvalidTimeRange, PeacelandError

NOW = datetime(2026, 11, 28, 10, 30, tzinfo=UTC)
ROOT = "s3://peaceland/p/"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T10:15:00Z", datetime(2026, 11, 28, 10, 15, tzinfo=UTC)),
        ("2026-11-28T12:15:00+02:00", datetime(2026, 11, 28, 10, 15, tzinfo=UTC)),
        ("2026-11-28T10:15:00.250000Z", datetime(2026, 11, 28, 10, 15, 0, 250000, tzinfo=UTC)),
        ("2026-11-27", datetime(2026, 11, 27, tzinfo=UTC)),
        ("90s", NOW - timedelta(seconds=90)),
        ("15m", NOW - timedelta(minutes=15)),
        ("2h", NOW - timedelta(hours=2)),
        ("1.5d", NOW - timedelta(days=1.5)),
        (" 7d ", NOW - timedelta(days=7)),
        ("now", NOW),
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    parsed = parse_time(text, NOW)
    assert parsed == expected
    assert parsed.tzinfo == UTC


@pytest.mark.parametrize(
    "text", ["", "soon", "2026-11-28T10:15:00", "10:15", "2026-13-01", "-2h", "2w", "99999999d"]
)
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(InvalidTimeRange) as caught:
        parse_time(text, NOW, "since")
    assert str(caught.value).startswith(f"since {text.strip()!r}")
    assert isinstance(caught.value, PeacelandError)
    assert isinstance(caught.value, ValueError)


def test_range_must_go_forward() -> None:
    with pytest.raises(InvalidTimeRange, match="must be after since"):
        TimeRange.parse("1h", "2h", NOW)
    with pytest.raises(InvalidTimeRange):
        TimeRange(NOW, NOW)
    with pytest.raises(InvalidTimeRange, match="zone"):
        TimeRange(datetime(2026, 1, 1))
    assert TimeRange.parse(None, "now", NOW) == TimeRange(None, NOW)
    assert TimeRange().is_open
    assert TimeRange().describe() == "all time"
    assert TimeRange(since=NOW).describe() == "2026-11-28T10:30:00Z to now"


def test_open_range_reads_everything() -> None:
    plan = scan_plan(ROOT, "reports", TimeRange())
    assert plan.patterns == ("s3://peaceland/p/reports/*/*/*.parquet",)
    assert plan.where() == "true"


def test_short_range_lists_each_hour_folder() -> None:
    since = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    plan = scan_plan(ROOT, "alerts", TimeRange(since, since + timedelta(hours=1, minutes=1)))
    assert plan.patterns == (
        "s3://peaceland/p/alerts/date=2026-11-27/hour=23/*.parquet",
        "s3://peaceland/p/alerts/date=2026-11-28/hour=00/*.parquet",
    )
    assert plan.ts_filter == (
        "ts >= TIMESTAMPTZ '2026-11-27 23:30:00.000000+00' AND "
        "ts < TIMESTAMPTZ '2026-11-28 00:31:00.000000+00'"
    )
    assert plan.partition_filter is not None
    assert "DATE '2026-11-27'" in plan.partition_filter
    assert "hour <= 0" in plan.partition_filter


def test_until_on_the_hour_excludes_that_hour() -> None:
    start = datetime(2026, 11, 28, 8, tzinfo=UTC)
    plan = scan_plan(ROOT, "reports", TimeRange(start, start + timedelta(hours=2)))
    assert [folder(p).rsplit("/", 2)[1] for p in plan.patterns] == ["hour=08", "hour=09"]


def test_range_lengths_pick_hours_days_or_everything() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    hours = scan_plan(ROOT, "reports", TimeRange(start, start + timedelta(hours=MAX_HOUR_GLOBS)))
    assert len(hours.patterns) == MAX_HOUR_GLOBS
    days = scan_plan(ROOT, "reports", TimeRange(start, start + timedelta(hours=MAX_HOUR_GLOBS + 1)))
    assert days.patterns == (
        "s3://peaceland/p/reports/date=2026-11-01/*/*.parquet",
        "s3://peaceland/p/reports/date=2026-11-02/*/*.parquet",
        "s3://peaceland/p/reports/date=2026-11-03/*/*.parquet",
    )
    longest = scan_plan(ROOT, "reports", TimeRange(start, start + timedelta(days=MAX_DAY_GLOBS)))
    assert len(longest.patterns) == MAX_DAY_GLOBS
    whole = scan_plan(ROOT, "reports", TimeRange(start, start + timedelta(days=MAX_DAY_GLOBS + 1)))
    assert whole.patterns == ("s3://peaceland/p/reports/*/*/*.parquet",)
    assert whole.partition_filter is not None
    half_open = scan_plan(ROOT, "reports", TimeRange(since=start))
    assert half_open.patterns == whole.patterns
    assert half_open.where() == (
        "date >= DATE '2026-11-01' AND (date > DATE '2026-11-01' OR hour >= 0) AND "
        "ts >= TIMESTAMPTZ '2026-11-01 00:00:00.000000+00'"
    )


def test_bounds_in_other_zones_are_utc_partitions() -> None:
    paris = timezone(timedelta(hours=1))
    since = datetime(2026, 11, 28, 0, 30, tzinfo=paris)  # 23:30 UTC the day before
    plan = scan_plan(ROOT, "reports", TimeRange(since, since + timedelta(minutes=10)))
    assert plan.patterns == ("s3://peaceland/p/reports/date=2026-11-27/hour=23/*.parquet",)
