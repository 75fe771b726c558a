"""The alert rule of the contract: threshold, severity bands, ids, every boundary."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from peaceland.alerting.rules import PeacescoreRule, Rule, apply_rules, default_rules, severity
from peaceland.contract import Alert, Report, format_raised_at
from peaceland.contract.model import make_report

RAISED_AT = format_raised_at(datetime(2026, 11, 28, 10, 15, 1, 123456, tzinfo=UTC))


def report(*citizens: tuple[str, int], report_id: str | None = None) -> Report:
    return make_report(
        "drone-7",
        "2026-11-28T10:15:00Z",
        48.85,
        2.35,
        citizens,
        ["calme", "marché"],
        report_id=report_id,
    )


def alerts(r: Report, threshold: int = 20) -> list[Alert]:
    return apply_rules(default_rules(threshold), r, RAISED_AT)


@pytest.mark.parametrize(
    ("score", "expected"),
    [
        (0, "critical"),
        (4, "critical"),
        (5, "major"),
        (11, "major"),
        (12, "minor"),
        (19, "minor"),
        (100, "minor"),
    ],
)
def test_severity_bands(score: int, expected: str) -> None:
    assert severity(score) == expected


def test_a_citizen_at_the_threshold_raises_nothing_and_just_under_raises_one() -> None:
    assert alerts(report(("At Threshold", 20))) == []
    [alert] = alerts(report(("Just Under", 19)))
    assert alert.citizen == "Just Under"
    assert alert.peacescore == 19
    assert alert.severity == "minor"


def test_alert_carries_every_contract_field() -> None:
    r = report(("Calm", 90), ("Agitated", 3))
    [alert] = alerts(r)
    assert alert == Alert(
        alert_id="drone-7:2026-11-28T10:15:00Z/1",
        report_id="drone-7:2026-11-28T10:15:00Z",
        drone_id="drone-7",
        ts=datetime(2026, 11, 28, 10, 15, tzinfo=UTC),
        lat=48.85,
        lon=2.35,
        citizen="Agitated",
        peacescore=3,
        severity="critical",
        words=["calme", "marché"],
        raised_at=RAISED_AT,
    )


def test_several_bad_citizens_in_one_report_give_one_alert_each_indexed_by_position() -> None:
    r = report(("A", 0), ("B", 50), ("C", 11), ("D", 12), ("E", 20), ("F", 4), report_id="r-1")
    got = alerts(r)
    assert [(a.alert_id, a.citizen, a.severity) for a in got] == [
        ("r-1/0", "A", "critical"),
        ("r-1/2", "C", "major"),
        ("r-1/3", "D", "minor"),
        ("r-1/5", "F", "critical"),
    ]


def test_the_same_citizen_twice_in_a_report_raises_two_alerts() -> None:
    got = alerts(report(("Twin", 1), ("Twin", 1), report_id="r-2"))
    assert [a.alert_id for a in got] == ["r-2/0", "r-2/1"]


def test_empty_citizen_list_raises_nothing() -> None:
    assert alerts(report()) == []


def test_unicode_names_are_kept_exactly() -> None:
    names = ["Zoë Ñúñez", "李小龙", "Ольга", "🕊️ peace", "a\u0301"]
    got = alerts(report(*((name, 1) for name in names)))
    assert [a.citizen for a in got] == names


@pytest.mark.parametrize(
    ("threshold", "scores", "expected_indexes"),
    [
        (0, [0, 1, 100], []),
        (1, [0, 1, 100], [0]),
        (50, [49, 50, 51], [0]),
        (100, [99, 100], [0]),
        (101, [0, 100], [0, 1]),
    ],
)
def test_custom_threshold(threshold: int, scores: list[int], expected_indexes: list[int]) -> None:
    r = report(*((f"c{i}", s) for i, s in enumerate(scores)), report_id="t")
    assert [a.alert_id for a in alerts(r, threshold)] == [f"t/{i}" for i in expected_indexes]


def test_severity_does_not_depend_on_the_threshold() -> None:
    [alert] = alerts(report(("High", 60)), threshold=70)
    assert alert.severity == "minor"


def test_ids_are_deterministic_across_runs_and_clocks() -> None:
    r = report(("X", 2), ("Y", 7))
    later = format_raised_at(datetime(2030, 1, 1, tzinfo=UTC))
    first = apply_rules(default_rules(), r, RAISED_AT)
    second = apply_rules(default_rules(), r, later)
    assert [a.alert_id for a in first] == [a.alert_id for a in second]
    assert {a.raised_at for a in second} == {later}


def test_default_rule_uses_the_contract_threshold() -> None:
    assert default_rules() == (PeacescoreRule(20),)


def test_more_rules_add_their_alerts_in_rule_order() -> None:
    def word_rule(r: Report, raised_at: str) -> Iterable[Alert]:
        for alert in PeacescoreRule(101)(r, raised_at):
            if "marché" in r.words:
                yield msgspec.structs.replace(alert, alert_id=alert.alert_id + "/word")

    rules: tuple[Rule, ...] = (PeacescoreRule(), word_rule)
    got = apply_rules(rules, report(("Calm", 80), ("Bad", 1), report_id="w"), RAISED_AT)
    assert [a.alert_id for a in got] == ["w/1", "w/0/word", "w/1/word"]


def test_no_rules_no_alerts() -> None:
    assert apply_rules((), report(("Bad", 0)), RAISED_AT) == []


@given(st.lists(st.integers(0, 100), max_size=100), st.integers(0, 101))
def test_exactly_the_citizens_under_the_threshold_alert(scores: list[int], threshold: int) -> None:
    r = report(*((f"c{i}", s) for i, s in enumerate(scores)), report_id="p")
    got = alerts(r, threshold)
    assert [a.alert_id for a in got] == [f"p/{i}" for i, s in enumerate(scores) if s < threshold]
    assert all(a.severity == severity(a.peacescore) for a in got)
