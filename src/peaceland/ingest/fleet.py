"""A simulated fleet of drones and the reports it sends. Pure: no I/O, no clock, no globals.

The seed and the start time are passed in, so the same ``(FleetConfig, start)`` always yields
the same reports, byte for byte.

The world
    The area is cut into a ``GRID`` x ``GRID`` grid of cells. A population of citizens lives
    in those cells, most of them around a few cities, the rest spread out; a small share is
    agitated. Names are unique and reappear in every report that sees their owner.
The drones
    Each drone flies a continuous path: every simulated minute it turns a little (its turn
    rate is itself a smooth random walk), moves 0.7-1.8 km, bounces off the area's edges,
    and reports. Drone ``i`` reports at ``start + offset_i + k minutes`` (``offset_i`` in
    0..59 s, the first one 0), and the fleet yields reports in that global time order.
A report
    0..``MAX_SEEN`` citizens: residents of the drone's current cell, sometimes visitors from
    anywhere. Calm citizens score 46..100, agitated ones 20..40 ("tense", no alert). With
    probability ``bad_rate`` a report also carries one (sometimes two) agitated citizens with
    a peacescore below the alert threshold of 20: with ``bad_rate=0`` no peacescore is ever
    below 20. Words come from a calm and an agitated vocabulary, mixed with a weight that
    grows with the tension of the scene, so word analytics find a signal.

Generation avoids per-report heavy work (names, cells and weight tables are built once) and
encodes with a msgspec encoder built once: about 100 k reports/s on one core.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
import re
import time
from collections.abc import Iterator
from datetime import datetime
from typing import NamedTuple

import msgspec

from peaceland.contract import ConfigError, report_subject
from peaceland.ingest.vocabulary import (
    AGITATED_WORDS,
    CALM_WORDS,
    FIRST_NAMES,
    INITIALS,
    LAST_NAMES,
)

ALERT_THRESHOLD = 20
DEFAULT_BAD_RATE = 0.005
DEFAULT_POPULATION = 20_000
MAX_POPULATION = 500_000
DEFAULT_PREFIX = "pw"
REPORT_INTERVAL_S = 60
GRID = 48
CITIES = 12
CITY_SHARE = 0.6
AGITATED_SHARE = 0.03
VISITOR_SHARE = 0.15
SECOND_ALERT_SHARE = 0.15
MAX_SEEN = 8
KM_PER_DEG_LAT = 111.32

# Weights (in percent) of how many citizens a report sees, and how many words it hears.
_SEEN_WEIGHTS = (22, 26, 20, 13, 8, 5, 3, 2, 1)
_WORD_WEIGHTS = (5, 6, 9, 11, 12, 12, 11, 9, 8, 6, 5, 3, 3)
# Share of agitated words in calm, tense (an agitated citizen >= 20) and alerting reports.
_AGITATED_MIX = (0.01, 0.12, 0.6)


_PREFIX_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")


@dataclasses.dataclass(frozen=True, slots=True)
class Area:
    """A lat/lon box the drones fly in."""

    lat_min: float
    lon_min: float
    lat_max: float
    lon_max: float

    def __post_init__(self) -> None:
        if not (-90 <= self.lat_min < self.lat_max <= 90):
            raise ConfigError(f"area: need -90 <= lat_min < lat_max <= 90, got {self}")
        if not (-180 <= self.lon_min < self.lon_max <= 180):
            raise ConfigError(f"area: need -180 <= lon_min < lon_max <= 180, got {self}")

    @classmethod
    def parse(cls, text: str) -> Area:
        """``"lat_min,lon_min,lat_max,lon_max"`` → Area; ``ConfigError`` when malformed."""
        parts = text.split(",")
        try:
            values = [float(p) for p in parts]
        except ValueError:
            values = []
        if len(values) != 4 or not all(math.isfinite(v) for v in values):
            raise ConfigError(f"area: expected 'lat_min,lon_min,lat_max,lon_max', got {text!r}")
        return cls(*values)


#: Roughly metropolitan France.
FRANCE = Area(42.3, -4.8, 51.1, 8.2)


@dataclasses.dataclass(frozen=True, slots=True)
class FleetConfig:
    drones: int
    seed: int = 0
    bad_rate: float = DEFAULT_BAD_RATE
    area: Area = FRANCE
    population: int = DEFAULT_POPULATION
    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if self.drones < 1:
            raise ConfigError(f"drones: need at least 1, got {self.drones}")
        if not 0.0 <= self.bad_rate <= 1.0:
            raise ConfigError(f"bad rate: need 0..1, got {self.bad_rate}")
        if not 1 <= self.population <= MAX_POPULATION:
            raise ConfigError(f"population: need 1..{MAX_POPULATION}, got {self.population}")
        if not _PREFIX_RE.fullmatch(self.prefix):
            raise ConfigError(f"drone id prefix: need 1-40 of [A-Za-z0-9_-], got {self.prefix!r}")


class SimulatedReport(NamedTuple):
    """One report ready to publish; ``alerting`` = how many citizens score below 20."""

    drone_id: str
    subject: str
    report_id: str
    sim_offset_s: int
    alerting: int
    payload: bytes


class _Sighting(msgspec.Struct, gc=False):
    name: str
    peacescore: int


class _WireReport(msgspec.Struct, gc=False):
    drone_id: str
    ts: str
    lat: float
    lon: float
    citizens: list[_Sighting]
    words: list[str]
    report_id: str


class _Drone:
    __slots__ = ("drone_id", "heading", "lat", "lon", "offset", "step", "subject", "turn")

    def __init__(self, drone_id: str, offset: int, lat: float, lon: float, rng: random.Random):
        self.drone_id = drone_id
        self.subject = report_subject(drone_id)
        self.offset = offset
        self.lat = lat
        self.lon = lon
        self.heading = rng.uniform(-math.pi, math.pi)
        self.turn = 0.0
        self.step = rng.uniform(40.0, 110.0) / 60.0 / KM_PER_DEG_LAT  # degrees per minute


def _table(weights: tuple[int, ...]) -> tuple[int, ...]:
    """Weights summing to 100 → 100 values, so a draw is ``table[int(random() * 100)]``."""
    return tuple(itertools.chain.from_iterable([v] * w for v, w in enumerate(weights)))


def _word_cum_weights(agitated_share: float) -> list[float]:
    """Cumulative weights over ``CALM_WORDS + AGITATED_WORDS``, Zipf within each vocabulary."""
    calm = [1.0 / (r + 1) for r in range(len(CALM_WORDS))]
    agit = [1.0 / (r + 1) for r in range(len(AGITATED_WORDS))]
    weights = [w * (1 - agitated_share) / sum(calm) for w in calm]
    weights += [w * agitated_share / sum(agit) for w in agit]
    return list(itertools.accumulate(weights))


class Fleet:
    """An endless, deterministic iterator of ``SimulatedReport`` in simulated-time order."""

    def __init__(self, config: FleetConfig, start: datetime) -> None:
        if start.tzinfo is None:
            raise ConfigError("fleet start time must be timezone-aware")
        self.config = config
        self._start = int(start.timestamp())
        self._rng = rng = random.Random(config.seed)
        area = config.area
        self._cell_h = (area.lat_max - area.lat_min) / GRID
        self._cell_w = (area.lon_max - area.lon_min) / GRID
        self._build_population(rng)
        width = max(4, len(str(config.drones)))
        drones = [
            _Drone(
                f"{config.prefix}-{i:0{width}d}",
                rng.randrange(REPORT_INTERVAL_S),
                rng.uniform(area.lat_min, area.lat_max),
                rng.uniform(area.lon_min, area.lon_max),
                rng,
            )
            for i in range(1, config.drones + 1)
        ]
        self._order = sorted(drones, key=lambda d: d.offset)
        first = self._order[0].offset
        for d in self._order:  # the first report is due right at the start
            d.offset -= first
        self._next = 0
        self._round = 0
        self._seen = _table(_SEEN_WEIGHTS)
        self._word_counts = _table(_WORD_WEIGHTS)
        self._vocab = CALM_WORDS + AGITATED_WORDS
        self._mixes = tuple(_word_cum_weights(share) for share in _AGITATED_MIX)
        self._minutes: dict[int, str] = {}
        self._encode = msgspec.json.Encoder().encode

    @property
    def drone_ids(self) -> list[str]:
        return sorted(d.drone_id for d in self._order)

    @property
    def names(self) -> list[str]:
        """The whole population's names, agitated or not."""
        return list(self._names)

    def _build_population(self, rng: random.Random) -> None:
        cfg = self.config
        area = cfg.area
        n_first, n_last = len(FIRST_NAMES), len(LAST_NAMES)
        initials = cfg.population > n_first * n_last
        combos = n_first * n_last * (len(INITIALS) if initials else 1)
        names: list[str] = []
        for index in rng.sample(range(combos), cfg.population):
            index, last = divmod(index, n_last)
            if initials:
                index, initial = divmod(index, len(INITIALS))
                names.append(f"{FIRST_NAMES[index]} {INITIALS[initial]}. {LAST_NAMES[last]}")
            else:
                names.append(f"{FIRST_NAMES[index]} {LAST_NAMES[last]}")
        self._names = names
        n_agitated = max(1, round(cfg.population * AGITATED_SHARE))
        # The first n_agitated citizens are agitated (names were shuffled by the sample).
        self._base = [rng.randint(22, 38) for _ in range(n_agitated)]
        self._base += [rng.randint(50, 96) for _ in range(cfg.population - n_agitated)]
        self._agitated = list(range(n_agitated))
        span_lat, span_lon = area.lat_max - area.lat_min, area.lon_max - area.lon_min
        cities = [
            (rng.uniform(area.lat_min, area.lat_max), rng.uniform(area.lon_min, area.lon_max))
            for _ in range(CITIES)
        ]
        city_weights = [1.0 / (r + 1) for r in range(CITIES)]
        self._cells: list[list[int]] = [[] for _ in range(GRID * GRID)]
        self._cells_agitated: list[list[int]] = [[] for _ in range(GRID * GRID)]
        for citizen in range(cfg.population):
            if rng.random() < CITY_SHARE:
                lat0, lon0 = rng.choices(cities, city_weights)[0]
                lat = rng.gauss(lat0, span_lat * 0.025)
                lon = rng.gauss(lon0, span_lon * 0.025)
            else:
                lat = rng.uniform(area.lat_min, area.lat_max)
                lon = rng.uniform(area.lon_min, area.lon_max)
            cell = self._cell(lat, lon)
            self._cells[cell].append(citizen)
            if citizen < n_agitated:
                self._cells_agitated[cell].append(citizen)

    def _cell(self, lat: float, lon: float) -> int:
        area = self.config.area
        row = min(GRID - 1, max(0, int((lat - area.lat_min) / self._cell_h)))
        col = min(GRID - 1, max(0, int((lon - area.lon_min) / self._cell_w)))
        return row * GRID + col

    def _fly(self, d: _Drone) -> None:
        """One simulated minute of flight: smooth turn, move, bounce off the edges."""
        rng = self._rng
        area = self.config.area
        d.turn = d.turn * 0.8 + rng.gauss(0.0, 0.12)
        heading = d.heading + d.turn
        lat = d.lat + d.step * math.cos(heading)
        lon = d.lon + d.step * math.sin(heading) / max(0.05, math.cos(math.radians(d.lat)))
        if lat < area.lat_min or lat > area.lat_max:
            edge = area.lat_min if lat < area.lat_min else area.lat_max
            lat = min(area.lat_max, max(area.lat_min, 2 * edge - lat))
            heading = math.pi - heading
        if lon < area.lon_min or lon > area.lon_max:
            edge = area.lon_min if lon < area.lon_min else area.lon_max
            lon = min(area.lon_max, max(area.lon_min, 2 * edge - lon))
            heading = -heading
        d.heading = math.remainder(heading, math.tau)
        d.lat, d.lon = lat, lon

    def _timestamp(self, t: int) -> str:
        minute, second = divmod(t, 60)
        prefix = self._minutes.get(minute)
        if prefix is None:
            if len(self._minutes) > 8:
                self._minutes.clear()
            prefix = time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(minute * 60))
            self._minutes[minute] = prefix
        return f"{prefix}{second:02d}Z"

    def __iter__(self) -> Iterator[SimulatedReport]:
        return self

    def __next__(self) -> SimulatedReport:
        rng = self._rng
        random_ = rng.random
        d = self._order[self._next]
        offset = self._round * REPORT_INTERVAL_S + d.offset
        self._next += 1
        if self._next == len(self._order):
            self._next = 0
            self._round += 1
        self._fly(d)

        cell = self._cell(d.lat, d.lon)
        residents = self._cells[cell]
        population = len(self._names)
        chosen: list[int] = []
        for _ in range(self._seen[int(random_() * 100)]):
            if residents and random_() >= VISITOR_SHARE:
                citizen = residents[int(random_() * len(residents))]
            else:
                citizen = int(random_() * population)
            if citizen not in chosen:
                chosen.append(citizen)
        names, base = self._names, self._base
        tension = 0
        sightings: list[_Sighting] = []
        for citizen in chosen:
            score = base[citizen] + int(random_() * 9) - 4
            if score < 45:
                tension = 1
                score = max(ALERT_THRESHOLD, score)
            sightings.append(_Sighting(names[citizen], min(100, score)))

        alerting = 0
        if random_() < self.config.bad_rate:
            tension = 2
            alerting = 2 if random_() < SECOND_ALERT_SHARE else 1
            pool = self._cells_agitated[cell] or self._agitated
            for _ in range(alerting):
                citizen = pool[int(random_() * len(pool))]
                # Skewed towards the threshold: ~10 % critical, ~33 % major, ~57 % minor.
                sighting = _Sighting(names[citizen], int(random_() ** 0.6 * ALERT_THRESHOLD))
                if citizen in chosen:
                    sightings[chosen.index(citizen)] = sighting
                else:
                    at = int(random_() * (len(chosen) + 1))
                    chosen.insert(at, citizen)
                    sightings.insert(at, sighting)
            alerting = sum(1 for s in sightings if s.peacescore < ALERT_THRESHOLD)

        n_words = self._word_counts[int(random_() * 100)]
        words = rng.choices(self._vocab, cum_weights=self._mixes[tension], k=n_words)
        ts = self._timestamp(self._start + offset)
        report_id = f"{d.drone_id}:{ts}"
        payload = self._encode(
            _WireReport(
                d.drone_id, ts, round(d.lat, 5), round(d.lon, 5), sightings, words, report_id
            )
        )
        return SimulatedReport(d.drone_id, d.subject, report_id, offset, alerting, payload)
