"""``--since`` / ``--until`` and the partitions a time range needs. Pure.

    parse_time(text, now, name) -> datetime       ``contract.times.parse_time``, re-exported
    TimeRange.parse(since, until, now)             both bounds, checked (since < until)
    scan_plan(root, kind, time_range) -> ScanPlan  glob patterns + a filter on date/hour

The archive is Hive-partitioned by event date and hour (``kind/date=YYYY-MM-DD/hour=HH/``),
so a bounded range needs only some folders. ``scan_plan`` lists one glob per hour for short
ranges and one per day for longer ones (each glob is one S3 listing of one folder), and, for
long or open ranges, the whole kind with a filter on the ``date``/``hour`` partition columns,
which DuckDB applies to the file list before reading any file.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Final

from peaceland.contract import InvalidTimeRange
from peaceland.contract import parse_time as parse_time  # the one time grammar, re-exported

#: Ranges up to this long are scanned one hour folder at a time...
MAX_HOUR_GLOBS: Final = 48
#: ... up to this many days, one day folder at a time; longer ones list the whole kind.
MAX_DAY_GLOBS: Final = 62

_ONE_US: Final = timedelta(microseconds=1)


@dataclasses.dataclass(frozen=True, slots=True)
class TimeRange:
    """Event times ``since <= ts < until``; a missing bound is open."""

    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for bound in (self.since, self.until):
            if bound is not None and bound.utcoffset() is None:
                raise InvalidTimeRange("time bounds must carry a zone")
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise InvalidTimeRange(
                f"until ({_text(self.until)}) must be after since ({_text(self.since)})"
            )

    @classmethod
    def parse(cls, since: str | None, until: str | None, now: datetime) -> TimeRange:
        return cls(
            parse_time(since, now, "since") if since is not None else None,
            parse_time(until, now, "until") if until is not None else None,
        )

    @property
    def is_open(self) -> bool:
        """No bound at all: the whole archive."""
        return self.since is None and self.until is None

    def describe(self) -> str:
        if self.is_open:
            return "all time"
        since = _text(self.since) if self.since else "the start"
        until = _text(self.until) if self.until else "now"
        return f"{since} to {until}"


def _text(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclasses.dataclass(frozen=True, slots=True)
class ScanPlan:
    """What to read for one kind: glob patterns (each one folder or the whole kind) and SQL
    conditions on the ``date`` / ``hour`` partition columns and on ``ts``."""

    patterns: tuple[str, ...]
    partition_filter: str | None
    ts_filter: str | None

    def where(self) -> str:
        """The conditions as one SQL ``WHERE`` body (``true`` when there are none)."""
        parts = [p for p in (self.partition_filter, self.ts_filter) if p]
        return " AND ".join(parts) if parts else "true"


def folder(pattern: str) -> str:
    """The folder a pattern lists: everything before its first wildcard."""
    return pattern.split("*", 1)[0]


def scan_plan(root: str, kind: str, time_range: TimeRange) -> ScanPlan:
    """``root``: ``s3://bucket/[prefix]``. Hourly kinds only (reports, alerts)."""
    base = f"{root}{kind}/"
    whole = f"{base}*/*/*.parquet"
    since, until = time_range.since, time_range.until
    if since is None and until is None:
        return ScanPlan((whole,), None, None)
    ts_filter = " AND ".join(
        cond
        for cond in (
            f"ts >= {_ts_literal(since)}" if since is not None else "",
            f"ts < {_ts_literal(until)}" if until is not None else "",
        )
        if cond
    )
    first = _hour_floor(since) if since is not None else None
    last = _hour_floor(until - _ONE_US) if until is not None else None
    partition_filter = _partition_filter(first, last)
    if first is None or last is None:
        return ScanPlan((whole,), partition_filter, ts_filter)
    hours = int((last - first) / timedelta(hours=1)) + 1
    if hours <= MAX_HOUR_GLOBS:
        patterns = tuple(
            f"{base}date={h:%Y-%m-%d}/hour={h:%H}/*.parquet"
            for h in (first + timedelta(hours=i) for i in range(hours))
        )
        return ScanPlan(patterns, partition_filter, ts_filter)
    days = (last.date() - first.date()).days + 1
    if days <= MAX_DAY_GLOBS:
        patterns = tuple(
            f"{base}date={first.date() + timedelta(days=i):%Y-%m-%d}/*/*.parquet"
            for i in range(days)
        )
        return ScanPlan(patterns, partition_filter, ts_filter)
    return ScanPlan((whole,), partition_filter, ts_filter)


def _hour_floor(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _ts_literal(when: datetime) -> str:
    return f"TIMESTAMPTZ '{when.astimezone(UTC):%Y-%m-%d %H:%M:%S.%f}+00'"


def _partition_filter(first: datetime | None, last: datetime | None) -> str | None:
    """Keep the folders from hour ``first`` to hour ``last`` (both included)."""
    conds: list[str] = []
    if first is not None:
        day = f"DATE '{first:%Y-%m-%d}'"
        conds.append(f"date >= {day} AND (date > {day} OR hour >= {first.hour})")
    if last is not None:
        day = f"DATE '{last:%Y-%m-%d}'"
        conds.append(f"date <= {day} AND (date < {day} OR hour <= {last.hour})")
    return " AND ".join(conds) if conds else None
