"""The fleet view's memory: last position per drone, active drones, reports per minute."""

from __future__ import annotations

import pytest

from peaceland.web.drone_tracker import DroneTracker

T0 = 1_800_000_000.0  # a whole minute (divisible by 60)


def test_last_position_wins_and_reports_are_counted() -> None:
    tracker = DroneTracker(T0)
    tracker.observe("pw-1", 48.0, 2.0, "t1", T0 + 1)
    tracker.observe("pw-1", 48.5, 2.5, "t2", T0 + 61)
    (drone,) = tracker.active(T0 + 62, 5)
    assert (drone.lat, drone.lon, drone.ts, drone.reports) == (48.5, 2.5, "t2", 2)
    assert drone.seen_at == T0 + 61


def test_an_older_report_arriving_late_does_not_move_the_drone_back() -> None:
    tracker = DroneTracker(T0)
    tracker.observe("pw-1", 48.5, 2.5, "new", T0 + 61)
    tracker.observe("pw-1", 48.0, 2.0, "old", T0 + 1)
    (drone,) = tracker.active(T0 + 62, 5)
    assert (drone.ts, drone.reports) == ("new", 2)


def test_active_means_stored_in_the_last_minutes_most_recent_first() -> None:
    tracker = DroneTracker(T0)
    tracker.observe("quiet", 1.0, 1.0, "", T0)
    tracker.observe("b", 1.0, 1.0, "", T0 + 500)
    tracker.observe("a", 1.0, 1.0, "", T0 + 500)
    tracker.observe("c", 1.0, 1.0, "", T0 + 550)
    assert [d.drone_id for d in tracker.active(T0 + 600, 5)] == ["c", "a", "b"]
    assert [d.drone_id for d in tracker.active(T0 + 600, 10)] == ["c", "a", "b", "quiet"]
    assert len(tracker) == 4


def test_memory_is_bounded_forgetting_the_least_recently_seen() -> None:
    tracker = DroneTracker(T0, max_drones=3)
    for n in range(5):
        tracker.observe(f"d{n}", 0.0, 0.0, "", T0 + n)
    tracker.observe("d2", 0.0, 0.0, "", T0 + 10)  # seen again: kept
    tracker.observe("d5", 0.0, 0.0, "", T0 + 11)
    assert len(tracker) == 3
    assert {d.drone_id for d in tracker.active(T0 + 12, 60)} == {"d2", "d4", "d5"}


def test_reports_per_minute_from_the_start_with_empty_minutes_at_zero() -> None:
    tracker = DroneTracker(T0 + 30)
    tracker.observe("seed", 0.0, 0.0, "", T0 - 300)  # stored before tracking: position only
    for offset in (31, 40, 59, 125):
        tracker.observe("pw-1", 0.0, 0.0, "", T0 + offset)
    assert tracker.per_minute(T0 + 130, 60) == [(T0, 3), (T0 + 60, 0), (T0 + 120, 1)]
    assert tracker.per_minute(T0 + 130, 2) == [(T0 + 60, 0), (T0 + 120, 1)]


def test_minute_history_is_bounded() -> None:
    tracker = DroneTracker(T0, history_minutes=3)
    for minute in range(6):
        tracker.observe("pw-1", 0.0, 0.0, "", T0 + minute * 60)
    assert tracker.per_minute(T0 + 5 * 60, 60) == [(T0 + m * 60, 1) for m in (3, 4, 5)]


@pytest.mark.parametrize(("drones", "minutes"), [(0, 60), (10, 0)])
def test_bounds_must_be_positive(drones: int, minutes: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        DroneTracker(T0, max_drones=drones, history_minutes=minutes)
