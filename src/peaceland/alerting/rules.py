"""Alert rules: a report in, the alerts it raises out. Pure.

A rule is any callable ``(report, raised_at) -> Iterable[Alert]``; the alerter applies a tuple
of them to every report, so a new rule is a new callable added to ``default_rules``, never a
change to the consumer loop. Each rule must derive its ``alert_id`` deterministically from the
report (redelivery must give the same id, which JetStream deduplicates), and distinct rules must
never produce the same id for different alerts.

API:

* ``severity(peacescore) -> Severity`` — the contract's bands: ``critical`` below 5, ``major``
  below 12, ``minor`` otherwise.
* ``PeacescoreRule(threshold=20)`` — the contract rule: one alert per citizen whose
  ``peacescore < threshold``, ``alert_id = "{report_id}/{citizen index}"``.
* ``default_rules(threshold) -> tuple[Rule, ...]`` — the rules the alerter runs.
* ``apply_rules(rules, report, raised_at) -> list[Alert]`` — every alert of every rule, in rule
  order then citizen order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Final, Protocol

from peaceland.config import DEFAULT_ALERT_THRESHOLD
from peaceland.contract import Alert, Report, Severity

CRITICAL_BELOW: Final = 5
MAJOR_BELOW: Final = 12


class Rule(Protocol):
    """Anything that turns a report into alerts; ``raised_at`` is the alerter's clock, formatted
    by ``contract.format_raised_at``."""

    def __call__(self, report: Report, raised_at: str, /) -> Iterable[Alert]: ...


def severity(peacescore: int) -> Severity:
    """``critical`` below 5, ``major`` below 12, ``minor`` otherwise (contract)."""
    if peacescore < CRITICAL_BELOW:
        return "critical"
    if peacescore < MAJOR_BELOW:
        return "major"
    return "minor"


@dataclasses.dataclass(frozen=True, slots=True)
class PeacescoreRule:
    """A citizen with ``peacescore < threshold`` raises one alert per (report, citizen)."""

    threshold: int = DEFAULT_ALERT_THRESHOLD

    def __call__(self, report: Report, raised_at: str) -> list[Alert]:
        threshold = self.threshold
        alerts: list[Alert] = []
        for index, citizen in enumerate(report.citizens):
            if citizen.peacescore < threshold:
                alerts.append(
                    Alert(
                        alert_id=f"{report.report_id}/{index}",
                        report_id=report.report_id,
                        drone_id=report.drone_id,
                        ts=report.ts,
                        lat=report.lat,
                        lon=report.lon,
                        citizen=citizen.name,
                        peacescore=citizen.peacescore,
                        severity=severity(citizen.peacescore),
                        words=report.words,
                        raised_at=raised_at,
                    )
                )
        return alerts


def default_rules(threshold: int = DEFAULT_ALERT_THRESHOLD) -> tuple[Rule, ...]:
    """The rules the alerter runs, the threshold coming from settings."""
    return (PeacescoreRule(threshold),)


def apply_rules(rules: Sequence[Rule], report: Report, raised_at: str) -> list[Alert]:
    """Every alert raised by ``report``, in rule order, then in each rule's order."""
    if len(rules) == 1:
        return list(rules[0](report, raised_at))
    return [alert for rule in rules for alert in rule(report, raised_at)]
