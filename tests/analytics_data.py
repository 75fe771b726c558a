"""A small known archive for the analytics tests, written to S3 as the archiver writes it.

Reports and alerts are plain Python dicts (the rows of ``REPORTS_SCHEMA`` / ``ALERTS_SCHEMA``),
so the tests compute every statistic again in plain Python from ``Known.reports`` and
``Known.alerts``, the archive as the views must see it: one row per report and per alert.
What is written holds more: each hour in two objects, plus objects repeating some reports and
alerts (a redelivery after a crash) that the views must drop.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from peaceland.archive import ALERTS_KIND, REPORTS_KIND, ArchiveKind
from peaceland.archive.batching import plan_objects
from peaceland.config import Endpoints
from peaceland.storage import S3Store

THRESHOLD = 20
#: The event hours of the data set: three days (Friday to Sunday), various hours of day.
HOURS = [
    datetime(2026, 11, 27, 8, tzinfo=UTC),
    datetime(2026, 11, 27, 9, tzinfo=UTC),
    datetime(2026, 11, 27, 23, tzinfo=UTC),
    datetime(2026, 11, 28, 0, tzinfo=UTC),
    datetime(2026, 11, 28, 10, tzinfo=UTC),
    datetime(2026, 11, 28, 11, tzinfo=UTC),
    datetime(2026, 11, 28, 12, tzinfo=UTC),
    datetime(2026, 11, 28, 17, tzinfo=UTC),
    datetime(2026, 11, 29, 3, tzinfo=UTC),
    datetime(2026, 11, 29, 21, tzinfo=UTC),
]
DRONES = {f"pw-{n:02d}": (45.0 + n * 0.4, 2.0 + n * 0.3) for n in range(1, 6)}
NAMES = [f"Citizen {n}" for n in range(1, 14)] + ["Zoé Étienne", "O'Brien"]
WORDS = ["calme", "bonjour", "colère", "manif", "police", "fête", "bruit", "paix"]


def severity(score: int) -> str:
    return "critical" if score < 5 else "major" if score < 12 else "minor"


def _report(rng: random.Random, seq: int, hour: datetime) -> dict[str, Any]:
    drone = rng.choice(sorted(DRONES))
    home_lat, home_lon = DRONES[drone]
    ts = hour + timedelta(minutes=rng.randrange(60), seconds=rng.randrange(60))
    citizens = [
        {
            "name": rng.choice(NAMES),
            "peacescore": rng.choice([1, 4, 7, 11, 15, 19])
            if rng.random() < 0.2
            else rng.randint(20, 100),
        }
        for _ in range(rng.choice([0, 1, 1, 2, 2, 3]))
    ]
    words = [rng.choice(WORDS) for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.02:
        words.append("rare")
    return {
        "report_id": f"{drone}:{ts.isoformat().replace('+00:00', 'Z')}:{seq}",
        "drone_id": drone,
        "ts": ts,
        "lat": round(home_lat + rng.uniform(-0.6, 0.6), 5),
        "lon": round(home_lon + rng.uniform(-0.6, 0.6), 5),
        "citizens": citizens,
        "words": words,
        "extra": '{"battery":80}' if rng.random() < 0.1 else None,
        "received_at": ts + timedelta(seconds=2),
        "stream_seq": seq,
    }


def _alerts(report: dict[str, Any], first_seq: int) -> list[dict[str, Any]]:
    return [
        {
            "alert_id": f"{report['report_id']}/{i}",
            "report_id": report["report_id"],
            "drone_id": report["drone_id"],
            "ts": report["ts"],
            "lat": report["lat"],
            "lon": report["lon"],
            "citizen": c["name"],
            "peacescore": c["peacescore"],
            "severity": severity(c["peacescore"]),
            "words": report["words"],
            "raised_at": report["received_at"] + timedelta(milliseconds=3),
            "received_at": report["received_at"] + timedelta(milliseconds=5),
            "stream_seq": first_seq + i,
        }
        for i, c in enumerate(report["citizens"])
        if c["peacescore"] < THRESHOLD
    ]


@dataclasses.dataclass
class Known:
    """The archive's content as the views must see it, and where it was written."""

    prefix: str
    reports: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    #: Object keys written, per kind.
    keys: dict[str, list[str]]
    #: Report ids stored twice, and what their later copy says in ``extra``.
    duplicated: list[str]

    def sightings(self) -> list[dict[str, Any]]:
        return [
            {**r, "citizen": c["name"], "peacescore": c["peacescore"]}
            for r in self.reports
            for c in r["citizens"]
        ]


def build(seed: int = 7, per_hour: int = 30) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    reports = [
        _report(rng, seq, hour)
        for seq, hour in enumerate((h for h in HOURS for _ in range(per_hour)), start=1)
    ]
    alerts: list[dict[str, Any]] = []
    for report in reports:
        alerts.extend(_alerts(report, 10_000 + len(alerts)))
    return reports, alerts


async def _put_objects(
    store: S3Store, fmt: ArchiveKind, rows: list[dict[str, Any]], prefix: str
) -> list[str]:
    table = pa.Table.from_pylist(rows, schema=fmt.schema)
    keys = []
    for planned in plan_objects(fmt, table, prefix):
        await store.put(planned.key, fmt.to_parquet(planned.table))
        keys.append(planned.key)
    return keys


async def write_known(endpoints: Endpoints, *, seed: int = 7) -> Known:
    """Write the data set under a fresh key prefix: each hour's rows in two objects, then a
    redelivery repeating every tenth report and alert (later, with another stream_seq)."""
    prefix = f"analytics-{uuid.uuid4().hex[:10]}/"
    reports, alerts = build(seed)
    store = S3Store.connect(endpoints)
    keys: dict[str, list[str]] = {"reports": [], "alerts": []}
    try:
        for kind, fmt, rows in (
            ("reports", REPORTS_KIND, reports),
            ("alerts", ALERTS_KIND, alerts),
        ):
            for half in (rows[0::2], rows[1::2]):
                keys[kind] += await _put_objects(store, fmt, half, prefix)
            again = [
                {
                    **row,
                    "received_at": row["received_at"] + timedelta(minutes=5),
                    "stream_seq": row["stream_seq"] + 1_000_000,
                    **({"extra": '{"copy":2}'} if kind == "reports" else {}),
                }
                for row in rows[::10]
            ]
            keys[kind] += await _put_objects(store, fmt, again, prefix)
    finally:
        store.close()
    return Known(prefix, reports, alerts, keys, [r["report_id"] for r in reports[::10]])
