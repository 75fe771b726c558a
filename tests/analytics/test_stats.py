"""Every built-in statistic against the same statistic computed in plain Python, on a known
archive written to a real SeaweedFS S3, over all time and over a range cutting through hours."""

from __future__ import annotations

import asyncio
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from analytics_data import HOURS, THRESHOLD, Known, write_known
from peaceland.analytics import DEFAULT_PARAMS, STATS, TimeRange, archive_from, run_stat

pytestmark = pytest.mark.slow

CELL = float(DEFAULT_PARAMS["cell"])
MIN_SUPPORT = int(DEFAULT_PARAMS["min_support"])
LIMIT = int(DEFAULT_PARAMS["limit"])
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
RANGES = {
    "all": TimeRange(),
    # From the middle of the 3rd hour to ten minutes into the 6th: cuts through partitions.
    "cut": TimeRange(HOURS[2] + timedelta(minutes=30), HOURS[5] + timedelta(minutes=10)),
    "open": TimeRange(since=HOURS[6] + timedelta(minutes=20)),
}


@pytest.fixture(scope="module")
def known(stack: Any) -> Known:
    return asyncio.run(write_known(stack.endpoints))


def within(rows: list[dict[str, Any]], time_range: TimeRange) -> list[dict[str, Any]]:
    since, until = time_range.since, time_range.until
    return [
        r
        for r in rows
        if (since is None or r["ts"] >= since) and (until is None or r["ts"] < until)
    ]


def agitation(group: list[dict[str, Any]]) -> dict[str, Any]:
    agitated = sum(1 for s in group if s["peacescore"] < THRESHOLD)
    return {
        "sightings": len(group),
        "agitated": agitated,
        "agitated_share": agitated / len(group),
        "mean_peacescore": sum(s["peacescore"] for s in group) / len(group),
    }


def grouped(rows: list[dict[str, Any]], key: Callable[[dict[str, Any]], Any]) -> Iterator[Any]:
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    yield from sorted(groups.items())


def hour_of(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


# -- the statistics, once more in plain Python --------------------------------------------------


def by_hour(reports: list[dict[str, Any]], sightings: list[dict[str, Any]]) -> list[Any]:
    return [{"hour": h, **agitation(g)} for h, g in grouped(sightings, lambda s: s["ts"].hour)]


def by_weekday(reports: list[dict[str, Any]], sightings: list[dict[str, Any]]) -> list[Any]:
    return [
        {"weekday": d, "day": DAYS[d - 1], **agitation(g)}
        for d, g in grouped(sightings, lambda s: s["ts"].isoweekday())
    ]


def by_cell(reports: list[dict[str, Any]], sightings: list[dict[str, Any]]) -> list[Any]:
    def cell(s: dict[str, Any]) -> tuple[float, float]:
        return (math.floor(s["lat"] / CELL) * CELL, math.floor(s["lon"] / CELL) * CELL)

    return [
        {"lat_min": lat, "lon_min": lon, **agitation(g)}
        for (lat, lon), g in grouped(sightings, cell)
    ]


def by_drone(reports: list[dict[str, Any]], sightings: list[dict[str, Any]]) -> list[Any]:
    rows = []
    for drone, group in grouped(reports, lambda r: r["drone_id"]):
        scores = [c["peacescore"] for r in group for c in r["citizens"]]
        agitated = sum(1 for s in scores if s < THRESHOLD)
        rows.append(
            {
                "drone_id": drone,
                "reports": len(group),
                "sightings": len(scores),
                "agitated": agitated,
                "agitated_share": agitated / len(scores) if scores else None,
                "mean_peacescore": sum(scores) / len(scores) if scores else None,
            }
        )
    rows.sort(key=lambda r: (-r["agitated"], r["drone_id"]))
    return rows[:LIMIT]


def by_word(reports: list[dict[str, Any]], sightings: list[dict[str, Any]]) -> list[Any]:
    rows = [
        {"word": w, **agitation(g)}
        for w, g in grouped(
            [{**s, "word": w} for s in sightings for w in set(s["words"])], lambda s: s["word"]
        )
        if len(g) >= MIN_SUPPORT
    ]
    rows.sort(key=lambda r: (-r["agitated_share"], -r["sightings"], r["word"]))
    return rows[:LIMIT]


def repeat_citizens(reports: list[dict[str, Any]], sightings: list[dict[str, Any]]) -> list[Any]:
    agitated = [s for s in sightings if s["peacescore"] < THRESHOLD]
    rows = [
        {
            "citizen": name,
            "agitated_sightings": len(g),
            "drones": len({s["drone_id"] for s in g}),
            "min_peacescore": min(s["peacescore"] for s in g),
            "first_seen": min(s["ts"] for s in g),
            "last_seen": max(s["ts"] for s in g),
        }
        for name, g in grouped(agitated, lambda s: s["citizen"])
        if len(g) >= 2
    ]
    rows.sort(key=lambda r: (-r["agitated_sightings"], r["citizen"]))
    return rows[:LIMIT]


def over_time(reports: list[dict[str, Any]], sightings: list[dict[str, Any]]) -> list[Any]:
    rows = []
    for hour, g in grouped(sightings, lambda s: hour_of(s["ts"])):
        a = agitation(g)
        rows.append(
            {
                "hour": hour,
                "sightings": a["sightings"],
                "agitated": a["agitated"],
                "mean_peacescore": a["mean_peacescore"],
            }
        )
    return rows


def per_day(reports: list[dict[str, Any]], alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    r = Counter(x["ts"].date() for x in reports)
    a = Counter(x["ts"].date() for x in alerts)
    return [{"day": d, "reports": r[d], "alerts": a[d]} for d in sorted(set(r) | set(a))]


def alerting(reports: list[dict[str, Any]], sightings: list[dict[str, Any]]) -> list[Any]:
    rows = []
    for day, g in grouped(reports, lambda r: r["ts"].date()):
        n = sum(1 for r in g if any(c["peacescore"] < THRESHOLD for c in r["citizens"]))
        rows.append(
            {"day": day, "reports": len(g), "alerting_reports": n, "alerting_share": n / len(g)}
        )
    return rows


def active(reports: list[dict[str, Any]], sightings: list[dict[str, Any]]) -> list[Any]:
    rows = [
        {
            "drone_id": drone,
            "reports": len(g),
            "first_report": min(r["ts"] for r in g),
            "last_report": max(r["ts"] for r in g),
            "active_hours": len({hour_of(r["ts"]) for r in g}),
        }
        for drone, g in grouped(reports, lambda r: r["drone_id"])
    ]
    rows.sort(key=lambda r: (-r["reports"], r["drone_id"]))
    return rows[:LIMIT]


def severities(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = ["critical", "major", "minor"]
    return [
        {
            "severity": sev,
            "alerts": len(g),
            "citizens": len({a["citizen"] for a in g}),
            "drones": len({a["drone_id"] for a in g}),
        }
        for sev, g in sorted(
            grouped(alerts, lambda a: a["severity"]), key=lambda p: order.index(p[0])
        )
    ]


ON_REPORTS: dict[str, Callable[[list[dict[str, Any]], list[dict[str, Any]]], list[Any]]] = {
    "agitation_by_hour": by_hour,
    "agitation_by_weekday": by_weekday,
    "agitation_by_cell": by_cell,
    "agitation_by_drone": by_drone,
    "agitation_by_word": by_word,
    "repeat_agitated_citizens": repeat_citizens,
    "peacescore_over_time": over_time,
    "alerting_share": alerting,
    "active_drones": active,
}


def expected(name: str, known: Known, time_range: TimeRange) -> list[dict[str, Any]]:
    reports = within(known.reports, time_range)
    alerts = within(known.alerts, time_range)
    if name == "reports_per_day":
        return per_day(reports, alerts)
    if name == "alerts_by_severity":
        return severities(alerts)
    sightings = [
        {**r, "citizen": c["name"], "peacescore": c["peacescore"]}
        for r in reports
        for c in r["citizens"]
    ]
    return ON_REPORTS[name](reports, sightings)


def test_every_statistic_has_an_independent_check() -> None:
    assert set(STATS) == {*ON_REPORTS, "reports_per_day", "alerts_by_severity"}


@pytest.mark.parametrize("range_name", sorted(RANGES))
@pytest.mark.parametrize("name", sorted(STATS))
def test_statistic_matches_plain_python(
    stack: Any, known: Known, name: str, range_name: str
) -> None:
    time_range = RANGES[range_name]
    result = run_stat(archive_from(stack.endpoints, known.prefix), name, time_range)
    want = expected(name, known, time_range)
    assert want, "the data set must give every statistic something to count"
    assert_same_rows(result.rows(), want)


def assert_same_rows(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    """Same rows in the same order, same columns in the same order; floats approximately."""
    assert len(got) == len(want), (got, want)
    for got_row, want_row in zip(got, want, strict=True):
        assert list(got_row) == list(want_row)
        for column, value in want_row.items():
            if isinstance(value, float):
                assert got_row[column] == pytest.approx(value), (column, got_row, want_row)
            else:
                assert got_row[column] == value, (column, got_row, want_row)


def test_the_data_set_exercises_the_edges(known: Known) -> None:
    """Reports without citizens, a word under the support, duplicates, several objects per
    hour, three days: otherwise the checks above prove less."""
    assert any(not r["citizens"] for r in known.reports)
    words = Counter(w for s in known.sightings() for w in set(s["words"]))
    assert 0 < words["rare"] < MIN_SUPPORT
    assert known.duplicated
    assert len(known.keys["reports"]) > 2 * len(HOURS)
    assert len({r["ts"].date() for r in known.reports}) == 3
