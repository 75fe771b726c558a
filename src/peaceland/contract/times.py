"""The one time grammar of every ``--since/--until`` and ``?since=/?until=``. Pure.

    parse_time(text, now, name) -> datetime   always in UTC

Accepted (surrounding blanks ignored):

* an RFC 3339 / ISO 8601 instant with a zone: ``2026-11-28T10:15:00Z``,
  ``2026-11-28T12:15:00+02:00``, ``2026-11-28 10:15Z``, fractions of a second;
* a bare date, read as UTC midnight: ``2026-11-28``;
* ``now``;
* an age counted back from ``now``: a number (decimals allowed) and a unit among ``s``,
  ``m``, ``h``, ``d`` (``90s``, ``15m``, ``1.5h``, ``7d``), at most ``MAX_AGE``.

Anything else raises ``InvalidTimeRange`` (a ``ValueError``) whose message starts with
``"<name> '<text>'"``, fit for a CLI error or an HTTP 400 answer.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Final

import msgspec

from peaceland.contract.errors import InvalidTimeRange

#: The furthest back an age may reach (a century): beyond it a typo, not a query.
MAX_AGE: Final = timedelta(days=36600)

_AGE_RE: Final = re.compile(r"\A([0-9]+(?:\.[0-9]+)?)([smhd])\Z")  # ASCII digits only
_DATE_RE: Final = re.compile(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_UNIT_S: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_FORMS: Final = (
    "RFC 3339 with a zone (2026-11-28T10:15:00Z), a UTC date (2026-11-28), "
    "an age (90s, 15m, 2h, 7d) nor now"
)


def parse_time(text: str, now: datetime, name: str = "time") -> datetime:
    """``text`` as an instant in UTC; ages and ``now`` are relative to ``now`` (zone-aware)."""
    text = text.strip()
    match = _AGE_RE.match(text)
    if match is not None:
        return _back_from(now, float(match[1]) * _UNIT_S[match[2]], name, text)
    if text == "now":
        return now.astimezone(UTC)
    when = _instant(text)
    if when is None:
        raise InvalidTimeRange(f"{name} {text!r} is neither {_FORMS}")
    try:
        return when.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC equivalent
        raise InvalidTimeRange(f"{name} {text!r} is out of range") from None


def _back_from(now: datetime, seconds: float, name: str, text: str) -> datetime:
    # Compared as seconds first: a huge age would overflow timedelta itself.
    if seconds > MAX_AGE.total_seconds():
        raise InvalidTimeRange(f"{name} {text!r} is too far back (at most {MAX_AGE.days}d)")
    try:
        return (now - timedelta(seconds=seconds)).astimezone(UTC)
    except OverflowError:
        raise InvalidTimeRange(f"{name} {text!r} is too far back") from None


def _instant(text: str) -> datetime | None:
    """A zone-aware datetime, or None. ``fromisoformat`` takes the ISO forms, msgspec the RFC
    3339 ones it does not (lower-case ``z``, more than six fraction digits)."""
    if _DATE_RE.match(text):
        try:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        except ValueError:
            return None
    when: datetime | None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        try:
            when = msgspec.convert(text, datetime)
        except msgspec.ValidationError:
            when = None
    if when is None or when.utcoffset() is None:
        return None
    return when
