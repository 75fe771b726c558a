"""A large synthetic archive for the analytics benchmark, built with numpy and Arrow in bulk.

One hour of reports at a time: every drone reports once a minute, from a home position with
some jitter; 0 to 3 citizens per report from a skewed pool of names (some citizens are seen
often); 0 to 5 words per report from a skewed vocabulary. A citizen is agitated (peacescore
below 20) rarely, more at night and around a tenth of the drones (hot spots); reports with an
agitated citizen often hear a hostile word. The alerts are exactly those the alerter raises
for these reports. Objects are encoded by the archiver's own writer (``ArchiveFormat``) and
named by ``plan_objects``, so the layout is the real one: one reports and one alerts object
per hour, as compaction leaves a closed hour.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from peaceland.archive.batching import plan_objects
from peaceland.archive.kinds import ALERTS_KIND, REPORTS_KIND
from peaceland.archive.rows import CITIZEN, UTC_MICROS

START: Final = datetime(2026, 11, 23, tzinfo=UTC)  # a Monday
CITIZEN_POOL: Final = 200_000
VOCABULARY: Final = 400
HOSTILE: Final = ("colère", "menace", "émeute", "insulte", "bagarre")
THRESHOLD: Final = 20
#: France, roughly.
LAT: Final = (42.5, 51.0)
LON: Final = (-4.5, 7.5)


class Fleet:
    """The drones (home positions, hot spots) and the pools of names and words."""

    def __init__(self, drones: int, seed: int = 7) -> None:
        rng = np.random.default_rng(seed)
        self.drones = drones
        self.seed = seed
        self.home_lat = rng.uniform(*LAT, drones)
        self.home_lon = rng.uniform(*LON, drones)
        self.hot = rng.random(drones) < 0.1
        self.drone_names = pa.array([f"pw-{i:05d}" for i in range(drones)], pa.string())
        self.citizen_names = pa.array([f"Citizen {i:06d}" for i in range(CITIZEN_POOL)])
        self.vocabulary = pa.array([f"w{i:03d}" for i in range(VOCABULARY)] + list(HOSTILE))


@dataclasses.dataclass(frozen=True, slots=True)
class Hour:
    """One hour's objects: (key, Parquet bytes) for reports and for alerts, and row counts."""

    objects: list[tuple[str, bytes]]
    reports: int
    alerts: int


def _skewed(rng: np.random.Generator, size: int, high: int) -> np.ndarray:
    """Indexes in [0, high), small ones far more often (a power law)."""
    return np.minimum((rng.pareto(1.1, size) * high / 50).astype(np.int64), high - 1)


def _lists(offsets: np.ndarray, values: pa.Array) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


def build_hour(
    fleet: Fleet, hour: datetime, rows: int, first_seq: int
) -> tuple[pa.Table, pa.Table]:
    """``rows`` reports of ``hour`` (drone i at minute m), and their alerts."""
    rng = np.random.default_rng([fleet.seed, int(hour.timestamp())])
    index = np.arange(rows)
    drone = index % fleet.drones
    minute = (index // fleet.drones) % 60
    start_us = int(hour.timestamp()) * 1_000_000
    ts_us = start_us + minute * 60_000_000 + (drone % 60) * 1_000_000
    ts = pa.array(ts_us, pa.int64()).cast(UTC_MICROS)
    ts_text = pa.array(np.datetime_as_string(ts_us.astype("datetime64[us]"), unit="s"))
    drone_id = fleet.drone_names.take(pa.array(drone))
    report_id = pc.binary_join_element_wise(
        drone_id, pc.binary_join_element_wise(ts_text, "Z", ""), ":"
    )

    n_citizens = rng.choice(4, rows, p=[0.25, 0.4, 0.25, 0.1])
    citizen_offsets = np.concatenate([[0], np.cumsum(n_citizens)])
    total = int(citizen_offsets[-1])
    of_report = np.repeat(index, n_citizens)
    night = hour.hour >= 20 or hour.hour < 4
    p_bad = 0.002 * (2.5 if night else 1.0) * np.where(fleet.hot[drone[of_report]], 4.0, 1.0)
    bad = rng.random(total) < p_bad
    scores = np.where(bad, rng.integers(0, THRESHOLD, total), rng.integers(THRESHOLD, 101, total))
    names = fleet.citizen_names.take(pa.array(_skewed(rng, total, CITIZEN_POOL)))
    citizens = _lists(
        citizen_offsets,
        pa.StructArray.from_arrays([names, pa.array(scores, pa.int32())], fields=list(CITIZEN)),
    )

    n_words = rng.integers(0, 6, rows)
    word_offsets = np.concatenate([[0], np.cumsum(n_words)])
    word_index = _skewed(rng, int(word_offsets[-1]), VOCABULARY)
    agitated = np.bincount(of_report, weights=bad, minlength=rows) > 0
    hostile_first = agitated & (n_words > 0) & (rng.random(rows) < 0.6)
    word_index[word_offsets[:-1][hostile_first]] = VOCABULARY + rng.integers(
        0, len(HOSTILE), int(hostile_first.sum())
    )
    words = _lists(word_offsets, fleet.vocabulary.take(pa.array(word_index)))

    received_us = ts_us + rng.integers(200_000, 3_000_000, rows)
    lat = fleet.home_lat[drone] + rng.normal(0, 0.05, rows)
    lon = fleet.home_lon[drone] + rng.normal(0, 0.05, rows)
    reports = pa.Table.from_arrays(
        [
            report_id,
            drone_id,
            ts,
            pa.array(lat),
            pa.array(lon),
            citizens,
            words,
            pa.nulls(rows, pa.string()),
            pa.array(received_us, pa.int64()).cast(UTC_MICROS),
            pa.array(first_seq + index, pa.int64()),
        ],
        schema=REPORTS_KIND.schema,
    )
    alerts = _alerts(reports, of_report, citizen_offsets, bad, scores, names, received_us)
    return reports, alerts


def _alerts(
    reports: pa.Table,
    of_report: np.ndarray,
    citizen_offsets: np.ndarray,
    bad: np.ndarray,
    scores: np.ndarray,
    names: pa.Array,
    received_us: np.ndarray,
) -> pa.Table:
    which = np.flatnonzero(bad)
    rix = pa.array(of_report[which])
    position = pa.array((which - citizen_offsets[of_report[which]]).astype(str))
    report_id = reports["report_id"].combine_chunks().take(rix)
    severity = np.where(
        scores[which] < 5, "critical", np.where(scores[which] < 12, "major", "minor")
    )
    raised_us = received_us[of_report[which]] + 2_000
    return pa.Table.from_arrays(
        [
            pc.binary_join_element_wise(report_id, position, "/"),
            report_id,
            *(reports[c].combine_chunks().take(rix) for c in ("drone_id", "ts", "lat", "lon")),
            names.take(pa.array(which)),
            pa.array(scores[which], pa.int32()),
            pa.array(severity, pa.string()),
            reports["words"].combine_chunks().take(rix),
            pa.array(raised_us, pa.int64()).cast(UTC_MICROS),
            pa.array(raised_us + 1_000, pa.int64()).cast(UTC_MICROS),
            pa.array(10**12 + 4 * int(reports["stream_seq"][0].as_py()) + which, pa.int64()),
        ],
        schema=ALERTS_KIND.schema,
    )


def hours(total: int, days: int) -> Iterator[tuple[datetime, int]]:
    """(hour, reports in it) spreading ``total`` evenly over ``days``."""
    count = days * 24
    for i in range(count):
        rows = total // count + (1 if i < total % count else 0)
        yield START + timedelta(hours=i), rows


def encode_hour(fleet: Fleet, hour: datetime, rows: int, first_seq: int) -> Hour:
    reports, alerts = build_hour(fleet, hour, rows, first_seq)
    objects = [
        (planned.key, fmt.to_parquet(planned.table))
        for fmt, table in ((REPORTS_KIND, reports), (ALERTS_KIND, alerts))
        for planned in plan_objects(fmt, table)
    ]
    return Hour(objects, reports.num_rows, alerts.num_rows)
