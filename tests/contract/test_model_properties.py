"""Property-based tests of the report decoder: every field's boundaries, exact reasons, both
decoding paths, mutated and hostile payloads, round trips.

``test_model.py`` pins the reasons of hand-picked cases; here each rule is checked over its
whole domain: a value is accepted exactly when the contract allows it, and otherwise the
reason is the exact one for that field, whichever decoding path the payload takes (the fast
path for reports without unknown fields, the slow path with them).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from peaceland.contract import MAX_REPORT_BYTES, InvalidReport, decode_report, split_batch
from peaceland.contract.model import (
    MAX_CITIZENS,
    MAX_DRONE_ID_CHARS,
    MAX_NAME_CHARS,
    MAX_REPORT_ID_CHARS,
    MAX_TS_CHARS,
    MAX_WORD_CHARS,
    MAX_WORDS,
    Citizen,
    encode_report,
)
from peaceland.ingest import plan_body

BASE: dict[str, Any] = {
    "drone_id": "pw-0001",
    "ts": "2026-11-28T10:15:00Z",
    "lat": 48.8566,
    "lon": 2.3522,
    "citizens": [{"name": "Alice", "peacescore": 80}, {"name": "Bob", "peacescore": 9}],
    "words": ["peace", "bread"],
}
#: Contract order: the first broken rule is the one named.
FIELDS = ("drone_id", "ts", "lat", "lon", "citizens", "words", "report_id")
CATCH_ALL = "does not match the report contract"
DRONE_ID_RULE = "drone_id must be 1-64 chars of [A-Za-z0-9_-]"
TS_RULE = "ts must be RFC 3339 with a zone"
PEACESCORE_RULE = "peacescore must be an integer 0..100"


def dumps(obj: Any, *, ascii_only: bool = False) -> bytes:
    return json.dumps(obj, ensure_ascii=ascii_only, allow_nan=False).encode()


def outcome(payload: bytes) -> str | None:
    """The reason ``decode_report`` gives, or None when valid; any other exception fails."""
    try:
        decode_report(payload)
    except InvalidReport as exc:
        return exc.reason
    return None


def both_paths(obj: dict[str, Any]) -> str | None:
    """The verdict on ``obj``, checked to be the same with an unknown field (the slow path)."""
    fast = outcome(dumps(obj))
    slow = outcome(dumps({**obj, "zz_unknown": [1, {"k": None}]}))
    assert fast == slow
    return fast


def show(value: object) -> str:
    """How a reason quotes a value: its repr, cut to 40 chars."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def assert_precise(reason: str | None) -> None:
    if reason is not None:
        assert reason.strip()
        assert "\n" not in reason
        assert CATCH_ALL not in reason


# --- boundaries of every field ----------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
numbers = st.integers(min_value=-(2**70), max_value=2**70) | finite


@pytest.mark.parametrize(("name", "limit"), [("lat", 90), ("lon", 180)])
@given(value=numbers)
@example(value=90.0)
@example(value=-180)
@example(value=180.00000000000003)
@example(value=-0.0)
def test_coordinate_accepted_exactly_within_its_range(name: str, limit: int, value: float) -> None:
    reason = both_paths({**BASE, name: value})
    if -limit <= value <= limit:
        assert reason is None
        assert getattr(decode_report(dumps({**BASE, name: value})), name) == value
    else:
        assert reason == f"{name} {show(value)} out of range -{limit}..{limit}"


@pytest.mark.parametrize("name", ["lat", "lon"])
@given(value=st.text(max_size=5) | st.booleans() | st.none() | st.lists(finite, max_size=2))
def test_coordinate_of_another_type(name: str, value: Any) -> None:
    assert both_paths({**BASE, name: value}) == f"{name} must be a number"


drone_chars = st.sampled_from("aZ09_-") | st.characters(codec="utf-8")


@given(st.text(drone_chars, max_size=MAX_DRONE_ID_CHARS + 16))
@example("x" * MAX_DRONE_ID_CHARS)
@example("x" * (MAX_DRONE_ID_CHARS + 1))
@example("a\n")
@example("٣")  # a digit, but not [0-9]
def test_drone_id_accepted_exactly_when_safe_as_a_subject_token(drone_id: str) -> None:
    reason = both_paths({**BASE, "drone_id": drone_id})
    safe = re.fullmatch(r"[A-Za-z0-9_-]{1,64}", drone_id) is not None
    assert reason == (None if safe else DRONE_ID_RULE)
    if safe:
        assert not any(c in drone_id for c in ".*> \t\r\n")


offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(st.datetimes(timezones=offsets), st.sampled_from(["seconds", "milliseconds", "auto"]))
def test_any_zoned_timestamp_is_accepted_and_normalised_to_utc(
    when: datetime, timespec: str
) -> None:
    text = when.isoformat(timespec=timespec)
    reason = both_paths({**BASE, "ts": text})
    try:
        in_utc = when.astimezone(UTC)
    except OverflowError:
        assert reason == "ts out of range"
        return
    assert reason is None
    report = decode_report(dumps({**BASE, "ts": text}))
    assert (
        report.ts
        == datetime.fromisoformat(text)
        == in_utc.replace(microsecond=report.ts.microsecond)
    )
    assert report.ts.tzinfo is UTC
    assert report.report_id == f"{BASE['drone_id']}:{text}"


@given(st.datetimes(), st.sampled_from(["seconds", "microseconds"]))
def test_a_timestamp_without_zone_is_invalid(when: datetime, timespec: str) -> None:
    assert both_paths({**BASE, "ts": when.isoformat(timespec=timespec)}) == TS_RULE


@given(st.integers(min_value=0, max_value=40))
def test_timestamp_length_limit(digits: int) -> None:
    text = "2026-11-28T10:15:00." + "5" * digits + "Z" if digits else "2026-11-28T10:15:00Z"
    reason = both_paths({**BASE, "ts": text})
    if len(text) <= MAX_TS_CHARS:
        assert reason is None
    else:
        assert reason == f"ts has {len(text)} chars, at most {MAX_TS_CHARS}"


@given(st.text(max_size=30))
def test_free_text_timestamps_are_valid_or_rejected_as_such(text: str) -> None:
    reason = both_paths({**BASE, "ts": text})
    assert reason in (None, TS_RULE, "ts out of range")
    if reason is None:
        assert decode_report(dumps({**BASE, "ts": text})).ts.tzinfo is UTC


@given(st.integers(min_value=0, max_value=MAX_CITIZENS + 20))
def test_citizen_count_limit(count: int) -> None:
    citizens = [{"name": f"c{i}", "peacescore": i % 101} for i in range(count)]
    reason = both_paths({**BASE, "citizens": citizens})
    if count <= MAX_CITIZENS:
        assert reason is None
        assert len(decode_report(dumps({**BASE, "citizens": citizens})).citizens) == count
    else:
        assert reason == f"citizens has {count} items, at most {MAX_CITIZENS}"


@given(st.text(max_size=MAX_NAME_CHARS + 20), st.integers(min_value=0, max_value=4))
def test_citizen_name_length_in_characters(name: str, index: int) -> None:
    citizens = [{"name": "n", "peacescore": 50} for _ in range(5)]
    citizens[index]["name"] = name
    reason = both_paths({**BASE, "citizens": citizens})
    if 1 <= len(name) <= MAX_NAME_CHARS:
        assert reason is None
        assert decode_report(dumps({**BASE, "citizens": citizens})).citizens[index].name == name
    else:
        assert reason == f"citizens[{index}].name must be 1-{MAX_NAME_CHARS} chars"


@given(st.integers(min_value=-(2**70), max_value=2**70) | finite | st.booleans() | st.text())
@example(0)
@example(100)
@example(101)
@example(-1)
@example(50.0)
def test_peacescore_is_an_integer_within_0_and_100(score: Any) -> None:
    citizens = [{"name": "n", "peacescore": 50}, {"name": "m", "peacescore": score}]
    reason = both_paths({**BASE, "citizens": citizens})
    if type(score) is int and 0 <= score <= 100:
        assert reason is None
    else:
        assert reason == f"citizens[1].{PEACESCORE_RULE}"


@given(st.integers(min_value=0, max_value=MAX_WORDS + 20))
def test_word_count_limit(count: int) -> None:
    words = ["w"] * count
    reason = both_paths({**BASE, "words": words})
    if count <= MAX_WORDS:
        assert reason is None
    else:
        assert reason == f"words has {count} items, at most {MAX_WORDS}"


@given(st.text(max_size=MAX_WORD_CHARS + 20), st.integers(min_value=0, max_value=2))
def test_word_length_in_characters(word: str, index: int) -> None:
    words = ["a", "b", "c"]
    words[index] = word
    reason = both_paths({**BASE, "words": words})
    if 1 <= len(word) <= MAX_WORD_CHARS:
        assert reason is None
        assert decode_report(dumps({**BASE, "words": words})).words == words
    else:
        assert reason == f"words[{index}] must be 1-{MAX_WORD_CHARS} chars"


@given(st.none() | st.text(max_size=MAX_REPORT_ID_CHARS + 20))
def test_report_id_optional_and_bounded(report_id: str | None) -> None:
    reason = both_paths({**BASE, "report_id": report_id})
    if report_id is None or 1 <= len(report_id) <= MAX_REPORT_ID_CHARS:
        assert reason is None
        expected = report_id or f"{BASE['drone_id']}:{BASE['ts']}"
        assert decode_report(dumps({**BASE, "report_id": report_id})).report_id == expected
    else:
        assert reason == f"report_id must be 1-{MAX_REPORT_ID_CHARS} chars"


@given(st.integers(min_value=MAX_REPORT_BYTES - 300, max_value=MAX_REPORT_BYTES + 300))
def test_size_limit_to_the_byte(size: int) -> None:
    skeleton = dumps({**BASE, "pad": ""})
    payload = dumps({**BASE, "pad": "x" * (size - len(skeleton))})
    assert len(payload) == size
    reason = outcome(payload)
    if size <= MAX_REPORT_BYTES:
        assert reason is None
    else:
        assert reason == f"payload is {size} bytes, over the {MAX_REPORT_BYTES}-byte limit"


# --- one broken rule: the reason names it; several: the first in contract order ---------------

BAD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "drone_id": st.sampled_from(["", "a.b", "x" * 65, "a b", "*", ">", 7, None]),
    "ts": st.sampled_from(["", "2026-11-28T10:15:00", "2026-13-01T00:00:00Z", 0, None, []]),
    "lat": st.sampled_from([90.5, -91, "1", None, True, {}]),
    "lon": st.sampled_from([180.5, -181, "1", None, False, []]),
    "citizens": st.sampled_from(
        [
            None,
            {},
            "x",
            [1],
            [{"name": "a"}],
            [{"name": "", "peacescore": 1}],
            [{"name": "a", "peacescore": 101}],
            [{"name": "a", "peacescore": 1, "x": 0}],
        ]
    ),
    "words": st.sampled_from([None, "w", {}, [""], [1], ["w" * 101], ["w"] * 1001]),
    "report_id": st.sampled_from(["", "r" * 129, 5, [], {}]),
}


@given(st.data())
def test_one_broken_field_is_the_one_named(data: st.DataObject) -> None:
    field = data.draw(st.sampled_from(FIELDS))
    drop = field != "report_id" and data.draw(st.booleans())
    obj = {**BASE, "report_id": "r-1"}
    if drop:
        del obj[field]
    else:
        obj[field] = data.draw(BAD_VALUES[field])
    reason = both_paths(obj)
    assert reason is not None
    assert_precise(reason)
    if drop:
        assert reason == f"missing required field {field!r}"
    else:
        assert reason.startswith((field, f"missing required field '{field}"))


@given(st.lists(st.sampled_from(FIELDS), min_size=2, max_size=7, unique=True), st.data())
def test_the_first_broken_rule_in_contract_order_is_named(
    broken: list[str], data: st.DataObject
) -> None:
    obj = dict(BASE)
    for field in broken:
        obj[field] = data.draw(BAD_VALUES[field])
    first = min(broken, key=FIELDS.index)
    reason = both_paths(obj)
    assert reason is not None
    assert reason.startswith((first, f"missing required field '{first}"))


# --- valid reports: round trips and the two paths ----------------------------------------------

names = st.text(min_size=1, max_size=MAX_NAME_CHARS)
valid_objects = st.fixed_dictionaries(
    {
        "drone_id": st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z"),
        "ts": st.datetimes(
            min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=offsets
        ).map(lambda d: d.isoformat()),
        "lat": st.floats(min_value=-90, max_value=90) | st.integers(-90, 90),
        "lon": st.floats(min_value=-180, max_value=180) | st.integers(-180, 180),
        "citizens": st.lists(
            st.fixed_dictionaries({"name": names, "peacescore": st.integers(0, 100)}),
            max_size=8,
        ),
        "words": st.lists(st.text(min_size=1, max_size=MAX_WORD_CHARS), max_size=12),
    },
    optional={"report_id": st.text(min_size=1, max_size=MAX_REPORT_ID_CHARS)},
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | finite | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
unknown_fields = st.dictionaries(
    st.text(max_size=12).filter(lambda k: k not in FIELDS), json_values, max_size=4
)


@given(valid_objects, unknown_fields, st.booleans())
def test_valid_objects_decode_to_what_was_sent_and_round_trip(
    obj: dict[str, Any], extra: dict[str, Any], ascii_only: bool
) -> None:
    payload = dumps({**obj, **extra}, ascii_only=ascii_only)
    report = decode_report(payload)
    assert report.drone_id == obj["drone_id"]
    assert (report.lat, report.lon) == (obj["lat"], obj["lon"])
    assert report.citizens == [Citizen(c["name"], c["peacescore"]) for c in obj["citizens"]]
    assert report.words == obj["words"]
    assert report.report_id == obj.get("report_id", f"{obj['drone_id']}:{obj['ts']}")
    assert report.extra == (extra or None)
    assert report.ts == datetime.fromisoformat(obj["ts"])
    again = decode_report(encode_report(report))
    assert again == report
    assert encode_report(again) == encode_report(report)
    # The fast path (no unknown field) and the slow one give the same report but for extra.
    assert decode_report(dumps(obj)) == msgspec.structs.replace(report, extra=None)


# --- hostile payloads: only InvalidReport, always with a precise reason ------------------------


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid report's bytes after a few random edits: flips, cuts, insertions, copies."""
    payload = bytearray(dumps(draw(valid_objects)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=max(len(payload) - 1, 0)))
        action = draw(st.sampled_from(["flip", "delete", "insert", "duplicate", "truncate"]))
        if action == "flip" and payload:
            payload[at] ^= 1 << draw(st.integers(min_value=0, max_value=7))
        elif action == "delete":
            del payload[at : at + draw(st.integers(min_value=1, max_value=8))]
        elif action == "insert":
            token = draw(
                st.binary(min_size=1, max_size=4)
                | st.sampled_from([b"{", b"}", b"[", b"]", b",", b":", b'"', b"\\", b"\\u"])
                | st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"null", b"1e999"])
            )
            payload[at:at] = token
        elif action == "duplicate":
            payload[at:at] = payload[at : at + draw(st.integers(min_value=1, max_value=30))]
        else:
            del payload[at:]
    return bytes(payload)


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_reports_raise_only_invalid_report(payload: bytes) -> None:
    reason = outcome(payload)
    assert_precise(reason)
    if reason is None:
        report = decode_report(payload)
        assert decode_report(encode_report(report)) == report


@given(valid_objects, st.sampled_from([b"\xff", b"\xfe", b"\xc3", b"\xe2\x82", b"\xc0\xaf"]))
def test_bad_utf8_anywhere_in_a_string_is_named(obj: dict[str, Any], bad: bytes) -> None:
    payload = dumps({**obj, "words": ["before", "MARK", "after"]})
    assert outcome(payload.replace(b"MARK", b"MA" + bad + b"RK")) == "not valid UTF-8"


@given(
    st.sampled_from(["\\ud800", "\\udfff", "\\ud800\\u0041", "\\uDBFF\\uDBFF", "\\u12", "\\x41"])
)
def test_broken_escapes_are_rejected_as_not_json(escape: str) -> None:
    payload = dumps({**BASE, "words": ["MARK"]}).replace(b"MARK", escape.encode())
    reason = outcome(payload)
    assert reason is not None
    assert reason.startswith("not JSON: ")


def test_a_lone_high_surrogate_is_named_where_it_is_not_reported_as_truncated() -> None:
    # msgspec itself says "input data was truncated" of this complete document.
    payload = dumps({**BASE, "words": ["calm", "MARK"]}).replace(b"MARK", b"\\ud800")
    reason = outcome(payload)
    assert reason == "not JSON: lone UTF-16 surrogate escape in words[1]"
    assert outcome(payload[:-1]) == "not JSON: input data was truncated"  # truly cut short


@given(st.integers(min_value=1, max_value=5000), st.sampled_from(["[", '{"k":']))
def test_any_nesting_depth_is_kept_or_rejected_as_too_deep(depth: int, opener: str) -> None:
    closer = "]" if opener == "[" else "}"
    nested = opener * depth + "0" + closer * depth
    payload = dumps(BASE)[:-1] + b', "deep": ' + nested.encode() + b"}"
    reason = outcome(payload)
    assert reason in (None, "JSON nested too deeply")
    if reason is None:
        report = decode_report(payload)
        assert report.extra is not None
        assert json.dumps(report.extra["deep"], separators=(",", ":")) == nested


@given(st.lists(json_values, min_size=1, max_size=6), st.binary(max_size=64))
def test_arbitrary_json_and_bytes_raise_only_invalid_report(
    values: list[Any], garbage: bytes
) -> None:
    for payload in [dumps(v) for v in values] + [garbage, dumps(values), garbage + dumps(values)]:
        assert_precise(outcome(payload))


# --- batches: every item accounted for ---------------------------------------------------------


@given(
    st.lists(
        valid_objects.map(dumps)
        | json_values.map(dumps)
        | valid_objects.map(lambda o: dumps({**o, "words": ["MARK"]}).replace(b"MARK", b"\xff")),
        min_size=1,
        max_size=8,
    ),
    st.sampled_from([b",", b", ", b"\n,\t"]),
)
def test_a_batch_gives_one_outcome_per_item_with_raw_bytes_kept(
    items: list[bytes], separator: bytes
) -> None:
    body = b"[" + separator.join(items) + b"]"
    plan = plan_body(body, "fuzz")
    whole: str | None = None
    try:
        raw = split_batch(body)
    except InvalidReport as exc:
        raw, whole = [], exc.reason
    if whole is not None:
        # Not JSON as a whole: one dead letter of the untouched body.
        assert [(e.index, e.error) for e in plan.errors] == [(0, whole)]
        assert [d.payload for d in plan.deadletters] == [body]
        assert plan.reports == []
        return
    assert len(raw) == len(items)
    assert raw == [item.strip(b" \t\r\n") for item in items]
    verdicts = [outcome(item) for item in raw]
    assert plan.report_indexes == [i for i, v in enumerate(verdicts) if v is None]
    assert [(e.index, e.error) for e in plan.errors] == [
        (i, v) for i, v in enumerate(verdicts) if v is not None
    ]
    assert [m.payload for m in plan.reports] == [raw[i] for i in plan.report_indexes]
    assert [d.payload for d in plan.deadletters] == [raw[e.index] for e in plan.errors]
