"""The last known position of each drone and the reports per minute, for the fleet view. Pure.

``DroneTracker`` is fed one report at a time (``observe``) with the time the stream stored
it, and answers which drones reported in the last minutes (``active``) and how many reports
came per minute since it started (``per_minute``). Memory is bounded: at most ``max_drones``
drones (the least recently seen are forgotten first) and ``history_minutes`` minute counters.

Times are seconds since the epoch, passed in: the stream's time, not the drone's ``ts``
(drone clocks drift, and the simulator runs its clock faster than the wall).
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Final

MAX_DRONES: Final = 100_000
HISTORY_MINUTES: Final = 60


@dataclasses.dataclass(frozen=True, slots=True)
class DronePosition:
    drone_id: str
    lat: float
    lon: float
    ts: str  # report time, as the drone sent it
    seen_at: float  # when the stream stored the report (epoch seconds)
    reports: int  # reports seen from this drone since tracking started


class DroneTracker:
    def __init__(
        self,
        started_at: float,
        *,
        max_drones: int = MAX_DRONES,
        history_minutes: int = HISTORY_MINUTES,
    ) -> None:
        if max_drones < 1 or history_minutes < 1:
            raise ValueError("max_drones and history_minutes must be at least 1")
        self.started_at = started_at
        self.max_drones = max_drones
        self.history_minutes = history_minutes
        self._drones: collections.OrderedDict[str, DronePosition] = collections.OrderedDict()
        self._minutes: collections.OrderedDict[int, int] = collections.OrderedDict()
        self.observed = 0

    def __len__(self) -> int:
        return len(self._drones)

    def observe(self, drone_id: str, lat: float, lon: float, ts: str, seen_at: float) -> None:
        """One report. Reports stored before ``started_at`` (the last one of each drone, read
        to know where it is) update positions but are not counted per minute."""
        self.observed += 1
        previous = self._drones.pop(drone_id, None)
        reports = previous.reports + 1 if previous is not None else 1
        if previous is not None and previous.seen_at > seen_at:
            self._drones[drone_id] = dataclasses.replace(previous, reports=reports)
        else:
            self._drones[drone_id] = DronePosition(drone_id, lat, lon, ts, seen_at, reports)
        while len(self._drones) > self.max_drones:
            self._drones.popitem(last=False)
        if seen_at >= self.started_at:
            self._count(int(seen_at // 60))

    def _count(self, minute: int) -> None:
        self._minutes[minute] = self._minutes.get(minute, 0) + 1
        if len(self._minutes) > self.history_minutes:
            oldest = min(self._minutes)
            del self._minutes[oldest]

    def active(self, now: float, minutes: float) -> list[DronePosition]:
        """Drones whose latest report was stored in the last ``minutes``, most recent first."""
        cutoff = now - minutes * 60
        found = [d for d in self._drones.values() if d.seen_at >= cutoff]
        found.sort(key=lambda d: (-d.seen_at, d.drone_id))
        return found

    def per_minute(self, now: float, minutes: int) -> list[tuple[int, int]]:
        """``(minute start, reports)`` for each minute of the last ``minutes`` since tracking
        started, oldest first, minutes without reports at 0. The first (tracking started
        within it) and the last (the current one) may be partial."""
        last = int(now // 60)
        first = max(last - minutes + 1, int(self.started_at // 60), last - self.history_minutes + 1)
        return [(m * 60, self._minutes.get(m, 0)) for m in range(first, last + 1)]
