"""The simulated fleet (pure generation) and the simulation's options and summary."""

from __future__ import annotations

import collections
import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peaceland.contract import ConfigError, Report, decode_report, report_subject
from peaceland.ingest import FRANCE, Area, SimulationOptions
from peaceland.ingest.fleet import Fleet, FleetConfig, SimulatedReport
from peaceland.ingest.simulator import SimulationSummary
from peaceland.ingest.vocabulary import AGITATED_WORDS, CALM_WORDS
from peaceland.stream import redact

START = datetime(2026, 11, 28, 10, 15, tzinfo=UTC)
PARIS = Area(48.80, 2.25, 48.90, 2.42)  # ~11 x 12 km: drones bounce off its edges often


def generate(n: int, **config: object) -> list[SimulatedReport]:
    params: dict[str, object] = {"drones": 50, "seed": 7} | config
    return list(itertools.islice(Fleet(FleetConfig(**params), START), n))  # type: ignore[arg-type]


def decoded(reports: list[SimulatedReport]) -> list[Report]:
    return [decode_report(r.payload) for r in reports]


def alerting(report: Report) -> bool:
    return any(c.peacescore < 20 for c in report.citizens)


def km(a: Report, b: Report) -> float:
    """Haversine distance."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def by_drone(reports: list[Report]) -> dict[str, list[Report]]:
    tracks: dict[str, list[Report]] = collections.defaultdict(list)
    for r in reports:
        tracks[r.drone_id].append(r)
    return tracks


@pytest.fixture(scope="module")
def default_run() -> list[Report]:
    """20,000 reports with the default bad rate, decoded."""
    return decoded(generate(20_000, drones=100, seed=42))


def test_same_seed_same_reports_other_seed_others() -> None:
    assert generate(500) == generate(500)
    assert [r.payload for r in generate(500)] != [r.payload for r in generate(500, seed=8)]


def test_every_report_validates_and_matches_its_envelope() -> None:
    raw = generate(3000, bad_rate=0.3) + generate(2000, area=PARIS, population=300)
    for sim, report in zip(raw, decoded(raw), strict=True):
        assert report.extra is None
        assert sim.drone_id == report.drone_id
        assert sim.subject == report_subject(report.drone_id)
        ts = report.ts.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert sim.report_id == report.report_id == f"{report.drone_id}:{ts}"
        assert sim.alerting == sum(c.peacescore < 20 for c in report.citizens)
        assert len({c.name for c in report.citizens}) == len(report.citizens)
        assert len(sim.payload) < 1024


def test_drone_ids_and_subjects() -> None:
    fleet = Fleet(FleetConfig(drones=12, prefix="unit"), START)
    assert fleet.drone_ids == [f"unit-{i:04d}" for i in range(1, 13)]
    assert {r.drone_id for r in itertools.islice(fleet, 12)} == set(fleet.drone_ids)


@pytest.mark.parametrize("area", [FRANCE, PARIS], ids=["france", "paris"])
def test_drones_fly_continuous_paths_inside_the_area(area: Area) -> None:
    tracks = by_drone(decoded(generate(10_000, drones=20, area=area)))
    assert len(tracks) == 20
    for track in tracks.values():
        assert len(track) == 500
        for a, b in itertools.pairwise(track):
            assert km(a, b) < 2.0  # at most 110 km/h for one minute
            assert area.lat_min <= b.lat <= area.lat_max
            assert area.lon_min <= b.lon <= area.lon_max
        # ... and they do go somewhere: not stuck in place
        assert max(km(track[0], r) for r in track) > 1.0


def test_timestamps_advance_one_simulated_minute_per_drone_report() -> None:
    raw = generate(5000, drones=25)
    reports = decoded(raw)
    assert reports[0].ts == START
    assert all(a.ts <= b.ts for a, b in itertools.pairwise(reports))  # fleet in time order
    for track in by_drone(reports).values():
        assert all(b.ts - a.ts == timedelta(minutes=1) for a, b in itertools.pairwise(track))
    for sim, report in zip(raw, reports, strict=True):
        assert START + timedelta(seconds=sim.sim_offset_s) == report.ts
    assert raw[0].payload.decode().count('"ts":"2026-11-28T10:15:00Z"') == 1


def test_bad_rate_zero_gives_no_alert_at_all() -> None:
    reports = decoded(generate(20_000, drones=100, bad_rate=0.0))
    assert min(c.peacescore for r in reports for c in r.citizens) >= 20


def test_default_bad_rate_is_about_half_a_percent(default_run: list[Report]) -> None:
    share = sum(map(alerting, default_run)) / len(default_run)
    assert 0.0035 <= share <= 0.0065


def test_bad_rate_sets_the_share_of_alerting_reports() -> None:
    reports = decoded(generate(20_000, drones=100, bad_rate=0.1))
    share = sum(map(alerting, reports)) / len(reports)
    assert 0.09 <= share <= 0.11
    scores = [c.peacescore for r in reports for c in r.citizens if c.peacescore < 20]
    assert min(scores) < 5  # every severity shows up
    assert any(5 <= s < 12 for s in scores)
    assert any(s >= 12 for s in scores)


def test_most_citizens_are_calm(default_run: list[Report]) -> None:
    scores = [c.peacescore for r in default_run for c in r.citizens]
    assert len(scores) > 20_000
    assert sum(s >= 45 for s in scores) / len(scores) > 0.9
    assert all(0 <= s <= 100 for s in scores)


def test_agitated_citizens_words_differ_from_calm_ones() -> None:
    reports = decoded(generate(20_000, drones=100, bad_rate=0.05))
    agitated = set(AGITATED_WORDS)

    def agitated_share(rs: list[Report]) -> float:
        words = [w for r in rs for w in r.words]
        return sum(w in agitated for w in words) / len(words)

    assert not agitated & set(CALM_WORDS)
    assert agitated_share([r for r in reports if alerting(r)]) > 0.4
    assert agitated_share([r for r in reports if not alerting(r)]) < 0.05


def test_citizens_reappear_across_reports_and_drones(default_run: list[Report]) -> None:
    drones_by_name: dict[str, set[str]] = collections.defaultdict(set)
    sightings = collections.Counter[str]()
    for r in default_run:
        for c in r.citizens:
            drones_by_name[c.name].add(r.drone_id)
            sightings[c.name] += 1
    seen_by_several = sum(len(d) >= 2 for d in drones_by_name.values())
    assert seen_by_several > 1000
    assert sightings.most_common(1)[0][1] >= 10


def test_population_names_are_unique_even_beyond_first_x_last_combinations() -> None:
    fleet = Fleet(FleetConfig(drones=1, population=40_000), START)
    names = fleet.names
    assert len(names) == len(set(names)) == 40_000
    assert any(". " in n for n in names)  # middle initials widen the name space


def test_start_time_must_be_timezone_aware() -> None:
    with pytest.raises(ConfigError):
        Fleet(FleetConfig(drones=1), datetime(2026, 1, 1))


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    drones=st.integers(1, 30),
    bad_rate=st.floats(0.0, 1.0),
    lat=st.floats(-89.0, 88.0),
    lon=st.floats(-179.0, 178.0),
    size=st.floats(0.0001, 1.0),
)
def test_any_fleet_sends_valid_reports(
    seed: int, drones: int, bad_rate: float, lat: float, lon: float, size: float
) -> None:
    area = Area(lat, lon, lat + size, lon + size)
    config = FleetConfig(drones=drones, seed=seed, bad_rate=bad_rate, area=area, population=50)
    for sim in itertools.islice(Fleet(config, START), 200):
        report = decode_report(sim.payload)
        # Positions are rounded to 5 decimals (about 1 m).
        assert area.lat_min - 1e-5 <= report.lat <= area.lat_max + 1e-5
        assert area.lon_min - 1e-5 <= report.lon <= area.lon_max + 1e-5
        if bad_rate == 0:
            assert sim.alerting == 0
        if bad_rate == 1:
            assert sim.alerting >= 1


def test_area_parse() -> None:
    assert Area.parse("42.3,-4.8,51.1,8.2") == FRANCE
    assert Area.parse(" 1, 2 ,3,4") == Area(1, 2, 3, 4)
    for bad in ["", "1,2,3", "1,2,3,x", "3,2,1,4", "1,4,3,2", "-91,0,0,1", "0,0,1,nan"]:
        with pytest.raises(ConfigError):
            Area.parse(bad)


@pytest.mark.parametrize(
    "config",
    [
        {"drones": 0},
        {"drones": 1, "bad_rate": 1.5},
        {"drones": 1, "bad_rate": -0.1},
        {"drones": 1, "population": 0},
        {"drones": 1, "prefix": "no.dots"},
        {"drones": 1, "prefix": ""},
    ],
)
def test_fleet_config_is_validated(config: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        FleetConfig(**config)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [
        {"count": 10, "duration": 1.0},
        {"count": -1},
        {"duration": 0.0},
        {"rate": -1.0},
        {"speed": 0.0},
        {"max_in_flight": 0},
        {"bad_rate": 2.0},
    ],
)
def test_simulation_options_are_validated(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        SimulationOptions(drones=1, **options)  # type: ignore[arg-type]


def test_summary_describes_itself() -> None:
    summary = SimulationSummary(
        drones=10,
        seed=3,
        sent=1000,
        acknowledged=998,
        duplicates=1,
        errors=2,
        alerting=5,
        duration_s=0.5,
        stopped="count reached",
        first_error="no acknowledgement within 10 s",
    )
    assert summary.rate == 1996
    text = summary.describe()
    assert "1,000 reports from 10 drones" in text
    assert "998 (1 duplicates dropped)" in text
    assert "errors        2 (first: no acknowledgement within 10 s)" in text
    assert "1,996 reports/s, count reached" in text


def test_redact_hides_credentials() -> None:
    assert redact("nats://user:secret@127.0.0.1:4222") == "nats://127.0.0.1:4222"
    assert redact("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"
