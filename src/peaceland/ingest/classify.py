"""Turning received bytes into stream messages: valid reports and dead letters. Pure.

Every input ends as exactly one outgoing message — a report for ``REPORTS`` or, untouched,
a dead letter for ``DEADLETTER`` with its reason — so nothing is ever silently dropped.
"""

from __future__ import annotations

import dataclasses

from peaceland.contract import (
    MAX_REPORT_BYTES,
    InvalidReport,
    decode_report,
    report_subject,
    split_batch,
)
from peaceland.stream import OutMessage, deadletter_message


@dataclasses.dataclass(frozen=True, slots=True)
class ItemError:
    index: int
    error: str
    too_large: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class IngestPlan:
    """What to publish for one request body, and what to tell the sender."""

    reports: list[OutMessage]
    report_indexes: list[int]
    deadletters: list[OutMessage]
    errors: list[ItemError]
    is_batch: bool


def plan_item(
    payload: bytes, source: str, drone_id: str | None = None
) -> OutMessage | tuple[OutMessage, str]:
    """A report message for a valid payload, else the dead letter and its reason.

    ``drone_id``: the only drone the sender may speak for (a token bound to one drone).
    """
    try:
        report = decode_report(payload)
    except InvalidReport as exc:
        return deadletter_message(source, payload, exc.reason), exc.reason
    if drone_id is not None and report.drone_id != drone_id:
        reason = f"drone_id {report.drone_id!r} is not this sender's drone {drone_id!r}"
        return deadletter_message(source, payload, reason), reason
    return OutMessage(report_subject(report.drone_id), payload, msg_id=report.report_id)


def plan_body(body: bytes, source: str, drone_id: str | None = None) -> IngestPlan:
    """Split a body (one report or a JSON array of them) and classify each item; with
    ``drone_id``, reports of any other drone are refused."""
    try:
        items = split_batch(body)
    except InvalidReport as exc:
        return _rejected_whole(body, source, exc.reason)
    if not items:
        return _rejected_whole(body, source, "empty array: no report in the body")
    is_batch = body.lstrip()[:1] == b"["
    reports: list[OutMessage] = []
    indexes: list[int] = []
    deadletters: list[OutMessage] = []
    errors: list[ItemError] = []
    for index, item in enumerate(items):
        planned = plan_item(item, source, drone_id)
        if isinstance(planned, OutMessage):
            reports.append(planned)
            indexes.append(index)
        else:
            deadletters.append(planned[0])
            errors.append(ItemError(index, planned[1], len(item) > MAX_REPORT_BYTES))
    return IngestPlan(reports, indexes, deadletters, errors, is_batch)


def _rejected_whole(body: bytes, source: str, reason: str) -> IngestPlan:
    return IngestPlan(
        [], [], [deadletter_message(source, body, reason)], [ItemError(0, reason)], is_batch=False
    )
