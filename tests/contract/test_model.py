"""The report contract: every rule, its boundaries, exact reasons, codecs and properties."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from peaceland.contract import (
    MAX_REPORT_BYTES,
    Alert,
    InvalidReport,
    Report,
    decode_alert,
    decode_report,
    encode_alert,
    format_raised_at,
    split_batch,
    valid_drone_id,
)
from peaceland.contract.model import Citizen, encode_report, make_report

VALID: dict[str, Any] = {
    "drone_id": "drone-0042",
    "ts": "2026-11-28T10:15:00Z",
    "lat": 48.856613,
    "lon": 2.352222,
    "citizens": [
        {"name": "Alice Martin", "peacescore": 87},
        {"name": "Bob Durand", "peacescore": 12},
        {"name": "Chloé Petit", "peacescore": 64},
    ],
    "words": ["peace", "market", "bread", "weather"],
}
TS = datetime(2026, 11, 28, 10, 15, tzinfo=UTC)
FALLBACK = "does not match the report contract"


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def with_(**changes: Any) -> bytes:
    return dumps({**VALID, **changes})


def without(name: str) -> bytes:
    return dumps({k: v for k, v in VALID.items() if k != name})


def citizen(index: int, **changes: Any) -> bytes:
    citizens = [dict(c) for c in VALID["citizens"]]
    citizens[index].update(changes)
    return with_(citizens=citizens)


def citizen_without(index: int, name: str) -> bytes:
    citizens = [dict(c) for c in VALID["citizens"]]
    del citizens[index][name]
    return with_(citizens=citizens)


def word(index: int, value: Any) -> bytes:
    words = list(VALID["words"])
    words[index] = value
    return with_(words=words)


def padded_to(size: int) -> bytes:
    """A valid report of exactly ``size`` bytes (padding in an extra field)."""
    skeleton = with_(pad="")
    return with_(pad="x" * (size - len(skeleton)))


def outcome(payload: bytes) -> str | None:
    """The reason ``decode_report`` gives, or None when the payload is valid."""
    try:
        decode_report(payload)
    except InvalidReport as exc:
        return exc.reason
    return None


def assert_precise(reason: str | None) -> None:
    """A rejection names the broken rule, never the catch-all."""
    if reason is not None:
        assert reason
        assert FALLBACK not in reason


def reason_of(payload: bytes) -> str:
    with pytest.raises(InvalidReport) as info:
        decode_report(payload)
    return info.value.reason


# --- invalid inputs: exact reasons ------------------------------------------------------------

NAN = with_(lat=1).replace(b'"lat": 1', b'"lat": NaN')

INVALID: list[tuple[str, bytes, str]] = [
    # size, encoding, JSON, shape
    (
        "oversize",
        padded_to(MAX_REPORT_BYTES + 1),
        "payload is 65537 bytes, over the 65536-byte limit",
    ),
    ("huge", b" " * 70000, "payload is 70000 bytes, over the 65536-byte limit"),
    ("bad utf-8 alone", b"\xff", "not valid UTF-8"),
    ("bad utf-8 in a word", with_(words=["ok"]).replace(b'"ok"', b'"o\xffk"'), "not valid UTF-8"),
    ("bad utf-8 in a key", with_(x=1).replace(b'"x"', b'"\xc3"'), "not valid UTF-8"),
    ("latin-1 name", dumps(VALID).replace("é".encode(), b"\xe9"), "not valid UTF-8"),
    ("empty", b"", "not JSON: input data was truncated"),
    ("text", b"hello", "not JSON: invalid character (byte 0)"),
    ("truncated", with_()[:-1], "not JSON: input data was truncated"),
    (
        "trailing garbage",
        with_() + b" x",
        f"not JSON: trailing characters (byte {len(with_()) + 2})",
    ),
    ("byte order mark", b"\xef\xbb\xbf" + with_(), "not JSON: invalid character (byte 0)"),
    ("NaN literal", NAN, f"not JSON: invalid character (byte {NAN.index(b'NaN')})"),
    (
        "number beyond float",
        with_(lat=1).replace(b'"lat": 1', b'"lat": 1e400'),
        "lat is a number out of range",
    ),
    (
        "number beyond float, deeper",
        with_(citizens=[{"name": "A", "peacescore": 1}], x={"y": [0, 1]})
        .replace(b'"peacescore": 1', b'"peacescore": -1e999')
        .replace(b"[0, 1]", b"[0, 1e400]"),
        "citizens[0].peacescore is a number out of range",
    ),
    (
        "number beyond float, in an extra field",
        with_(x={"y": [0, 1]}).replace(b"[0, 1]", b"[0, 1e400]"),
        "x.y[1] is a number out of range",
    ),
    (
        "deep nesting",
        with_()[:-1] + b', "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        "JSON nested too deeply",
    ),
    ("array", b"[]", "JSON but not an object"),
    ("array of report", b"[" + with_() + b"]", "JSON but not an object"),
    ("string", b'"report"', "JSON but not an object"),
    ("number", b"42", "JSON but not an object"),
    ("null", b"null", "JSON but not an object"),
    ("true", b"true", "JSON but not an object"),
    # required fields
    ("missing drone_id", without("drone_id"), "missing required field 'drone_id'"),
    ("missing ts", without("ts"), "missing required field 'ts'"),
    ("missing lat", without("lat"), "missing required field 'lat'"),
    ("missing lon", without("lon"), "missing required field 'lon'"),
    ("missing citizens", without("citizens"), "missing required field 'citizens'"),
    ("missing words", without("words"), "missing required field 'words'"),
    ("empty object", b"{}", "missing required field 'drone_id'"),
    # drone_id
    ("drone_id empty", with_(drone_id=""), "drone_id must be 1-64 chars of [A-Za-z0-9_-]"),
    ("drone_id 65 chars", with_(drone_id="d" * 65), "drone_id must be 1-64 chars of [A-Za-z0-9_-]"),
    ("drone_id space", with_(drone_id="drone 1"), "drone_id must be 1-64 chars of [A-Za-z0-9_-]"),
    ("drone_id star", with_(drone_id="drone*"), "drone_id must be 1-64 chars of [A-Za-z0-9_-]"),
    ("drone_id gt", with_(drone_id="drone>"), "drone_id must be 1-64 chars of [A-Za-z0-9_-]"),
    ("drone_id dot", with_(drone_id="drone.1"), "drone_id must be 1-64 chars of [A-Za-z0-9_-]"),
    (
        "drone_id newline",
        with_(drone_id="drone1\n"),
        "drone_id must be 1-64 chars of [A-Za-z0-9_-]",
    ),
    ("drone_id slash", with_(drone_id="a/b"), "drone_id must be 1-64 chars of [A-Za-z0-9_-]"),
    ("drone_id non-ascii", with_(drone_id="dröne"), "drone_id must be 1-64 chars of [A-Za-z0-9_-]"),
    ("drone_id number", with_(drone_id=42), "drone_id must be 1-64 chars of [A-Za-z0-9_-]"),
    ("drone_id null", with_(drone_id=None), "drone_id must be 1-64 chars of [A-Za-z0-9_-]"),
    # ts
    ("ts naive", with_(ts="2026-11-28T10:15:00"), "ts must be RFC 3339 with a zone"),
    ("ts date only", with_(ts="2026-11-28"), "ts must be RFC 3339 with a zone"),
    ("ts no seconds", with_(ts="2026-11-28T10:15Z"), "ts must be RFC 3339 with a zone"),
    ("ts basic format", with_(ts="20261128T101500Z"), "ts must be RFC 3339 with a zone"),
    ("ts impossible date", with_(ts="2026-02-30T10:15:00Z"), "ts must be RFC 3339 with a zone"),
    ("ts words", with_(ts="yesterday"), "ts must be RFC 3339 with a zone"),
    ("ts empty", with_(ts=""), "ts must be RFC 3339 with a zone"),
    ("ts epoch number", with_(ts=1796206500), "ts must be RFC 3339 with a zone"),
    ("ts null", with_(ts=None), "ts must be RFC 3339 with a zone"),
    (
        "ts 49 chars",
        with_(ts="2026-11-28T10:15:00." + "1" * 28 + "Z"),
        "ts has 49 chars, at most 48",
    ),
    ("ts before year 1 in UTC", with_(ts="0001-01-01T00:00:00+01:00"), "ts out of range"),
    ("ts after year 9999 in UTC", with_(ts="9999-12-31T23:59:59-01:00"), "ts out of range"),
    # lat, lon
    ("lat 91", with_(lat=91), "lat 91 out of range -90..90"),
    ("lat -91", with_(lat=-91), "lat -91 out of range -90..90"),
    ("lat 90.0000001", with_(lat=90.0000001), "lat 90.0000001 out of range -90..90"),
    ("lat -90.0000001", with_(lat=-90.0000001), "lat -90.0000001 out of range -90..90"),
    ("lat huge int", with_(lat=10**30), "lat 1000000000000000000000000000000 out of range -90..90"),
    ("lat string", with_(lat="48.8"), "lat must be a number"),
    ("lat true", with_(lat=True), "lat must be a number"),
    ("lat null", with_(lat=None), "lat must be a number"),
    ("lon 181", with_(lon=181), "lon 181 out of range -180..180"),
    ("lon -180.5", with_(lon=-180.5), "lon -180.5 out of range -180..180"),
    ("lon false", with_(lon=False), "lon must be a number"),
    ("lon array", with_(lon=[2.3]), "lon must be a number"),
    # citizens
    ("citizens object", with_(citizens={}), "citizens must be an array"),
    ("citizens null", with_(citizens=None), "citizens must be an array"),
    ("citizens string", with_(citizens="Alice"), "citizens must be an array"),
    (
        "101 citizens",
        with_(citizens=[{"name": "a", "peacescore": 1}] * 101),
        "citizens has 101 items, at most 100",
    ),
    ("citizen string", with_(citizens=["Alice"]), "citizens[0] must be an object"),
    ("citizen pair", with_(citizens=[["Alice", 50]]), "citizens[0] must be an object"),
    (
        "citizen missing name",
        citizen_without(2, "name"),
        "missing required field 'citizens[2].name'",
    ),
    (
        "citizen missing score",
        citizen_without(1, "peacescore"),
        "missing required field 'citizens[1].peacescore'",
    ),
    ("name empty", citizen(0, name=""), "citizens[0].name must be 1-200 chars"),
    ("name 201 chars", citizen(1, name="n" * 201), "citizens[1].name must be 1-200 chars"),
    ("name number", citizen(2, name=7), "citizens[2].name must be a string"),
    ("name null", citizen(2, name=None), "citizens[2].name must be a string"),
    (
        "peacescore -1",
        citizen(2, peacescore=-1),
        "citizens[2].peacescore must be an integer 0..100",
    ),
    (
        "peacescore 101",
        citizen(2, peacescore=101),
        "citizens[2].peacescore must be an integer 0..100",
    ),
    (
        "peacescore 50.0",
        citizen(2, peacescore=50.0),
        "citizens[2].peacescore must be an integer 0..100",
    ),
    (
        "peacescore 50.5",
        citizen(2, peacescore=50.5),
        "citizens[2].peacescore must be an integer 0..100",
    ),
    (
        "peacescore true",
        citizen(2, peacescore=True),
        "citizens[2].peacescore must be an integer 0..100",
    ),
    (
        "peacescore false",
        citizen(0, peacescore=False),
        "citizens[0].peacescore must be an integer 0..100",
    ),
    (
        "peacescore string",
        citizen(2, peacescore="50"),
        "citizens[2].peacescore must be an integer 0..100",
    ),
    (
        "peacescore null",
        citizen(2, peacescore=None),
        "citizens[2].peacescore must be an integer 0..100",
    ),
    (
        "peacescore huge",
        citizen(2, peacescore=2**70),
        "citizens[2].peacescore must be an integer 0..100",
    ),
    ("citizen unknown key", citizen(1, age=40), "citizens[1] has unknown field 'age'"),
    # words
    ("words object", with_(words={"a": 1}), "words must be an array"),
    ("words string", with_(words="peace"), "words must be an array"),
    ("words null", with_(words=None), "words must be an array"),
    ("1001 words", with_(words=["w"] * 1001), "words has 1001 items, at most 1000"),
    ("word empty", word(3, ""), "words[3] must be 1-100 chars"),
    ("word 101 chars", word(3, "w" * 101), "words[3] must be 1-100 chars"),
    ("word number", word(0, 5), "words[0] must be a string"),
    ("word null", word(1, None), "words[1] must be a string"),
    # report_id
    ("report_id empty", with_(report_id=""), "report_id must be 1-128 chars"),
    ("report_id 129 chars", with_(report_id="r" * 129), "report_id must be 1-128 chars"),
    ("report_id number", with_(report_id=5), "report_id must be a string"),
    # the first broken rule, in contract order
    (
        "two problems",
        with_(lat=100, drone_id="a b"),
        "drone_id must be 1-64 chars of [A-Za-z0-9_-]",
    ),
    ("two problems, extra", with_(lat=100, words=[""], x=1), "lat 100 out of range -90..90"),
]


@pytest.mark.parametrize(
    ("payload", "reason"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_invalid_report_reason(payload: bytes, reason: str) -> None:
    assert reason_of(payload) == reason


def _is_dumped_object(payload: bytes) -> bool:
    try:
        obj = json.loads(payload)
    except (ValueError, RecursionError):
        return False
    return isinstance(obj, dict) and dumps(obj) == payload and len(payload) < MAX_REPORT_BYTES // 2


# The same cases with an extra field: they take the other decoding path, which must agree.
WITH_EXTRA = [
    (name, dumps({**json.loads(payload), "zz_extra": 1}), reason)
    for name, payload, reason in INVALID
    if _is_dumped_object(payload)
]


@pytest.mark.parametrize(
    ("payload", "reason"), [c[1:] for c in WITH_EXTRA], ids=[c[0] for c in WITH_EXTRA]
)
def test_invalid_report_with_extra_field_reason(payload: bytes, reason: str) -> None:
    assert reason_of(payload) == reason


# --- valid inputs, boundaries ---------------------------------------------------------------

VALID_CASES: list[tuple[str, bytes]] = [
    ("typical", with_()),
    ("lat 90", with_(lat=90)),
    ("lat -90", with_(lat=-90.0)),
    ("lon 180", with_(lon=180)),
    ("lon -180", with_(lon=-180.0)),
    ("lat, lon 0", with_(lat=0, lon=-0.0)),
    ("no citizens, no words", with_(citizens=[], words=[])),
    ("100 citizens", with_(citizens=[{"name": "a", "peacescore": 50}] * 100)),
    ("1000 words", with_(words=["w"] * 1000)),
    ("drone_id 64 chars", with_(drone_id="D" * 64)),
    ("drone_id 1 char", with_(drone_id="_")),
    ("drone_id all classes", with_(drone_id="AZaz09_-")),
    ("name 200 chars", citizen(0, name="n" * 200)),
    ("name 200 non-BMP chars", citizen(0, name="😀" * 200)),
    ("name 1 char", citizen(0, name="A")),
    ("peacescore 0", citizen(0, peacescore=0)),
    ("peacescore 100", citizen(0, peacescore=100)),
    ("word 100 chars", word(0, "é" * 100)),
    ("word 1 char", word(0, "a")),
    ("report_id 128 chars", with_(report_id="r" * 128)),
    ("report_id 1 char", with_(report_id="r")),
    ("report_id null", with_(report_id=None)),
    ("ts 48 chars", with_(ts="2026-11-28T10:15:00." + "0" * 27 + "Z")),
    ("ts lower-case t and z", with_(ts="2026-11-28t10:15:00z")),
    ("exactly 64 KiB", padded_to(MAX_REPORT_BYTES)),
    ("whitespace around", b" \n\t" + with_() + b"\r\n "),
    ("keys in another order", dumps(dict(reversed(list(VALID.items()))))),
]


@pytest.mark.parametrize("payload", [c[1] for c in VALID_CASES], ids=[c[0] for c in VALID_CASES])
def test_valid_report(payload: bytes) -> None:
    report = decode_report(payload)
    assert isinstance(report, Report)
    assert report.ts.tzinfo is UTC
    if len(payload) < MAX_REPORT_BYTES - 200:  # re-encoding adds report_id
        assert decode_report(encode_report(report)) == report


def test_typical_report_fields() -> None:
    report = decode_report(with_())
    assert report == Report(
        drone_id="drone-0042",
        ts=TS,
        lat=48.856613,
        lon=2.352222,
        citizens=[
            Citizen("Alice Martin", 87),
            Citizen("Bob Durand", 12),
            Citizen("Chloé Petit", 64),
        ],
        words=["peace", "market", "bread", "weather"],
        report_id="drone-0042:2026-11-28T10:15:00Z",
        extra=None,
    )
    assert type(report.lat) is float


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        ("2026-11-28T10:15:00Z", TS),
        ("2026-11-28T11:15:00+01:00", TS),
        ("2026-11-28T05:45:00-04:30", TS),
        ("2026-11-28T10:15:00-00:00", TS),
        ("2026-11-28T10:15:00+00:00", TS),
        ("2026-11-29T00:14:00+13:59", TS),
        ("2026-11-28T10:15:00.123456Z", TS.replace(microsecond=123456)),
        ("2026-11-28T11:15:00.5+01:00", TS.replace(microsecond=500000)),
    ],
)
def test_ts_normalised_to_utc_and_default_id_keeps_ts_as_sent(ts: str, expected: datetime) -> None:
    report = decode_report(with_(ts=ts))
    assert report.ts == expected
    assert report.ts.tzinfo is UTC
    assert report.report_id == f"drone-0042:{ts}"


def test_explicit_report_id_is_kept() -> None:
    assert decode_report(with_(report_id="abc:1")).report_id == "abc:1"


def test_extra_fields_are_kept_and_flattened_back() -> None:
    extra = {"battery": 87, "meta": {"fw": "1.2", "tags": [1, None, True]}, "extra": "x"}
    report = decode_report(with_(**extra))
    assert report.extra == extra
    assert report.citizens[0] == Citizen("Alice Martin", 87)
    encoded = msgspec.json.decode(encode_report(report))
    assert encoded["extra"] == "x"
    assert encoded["battery"] == 87
    assert decode_report(encode_report(report)) == report


def test_encode_report_without_extra_has_no_extra_key() -> None:
    encoded = msgspec.json.decode(encode_report(decode_report(with_())))
    assert set(encoded) == {*VALID, "report_id"}
    assert encoded["ts"] == "2026-11-28T10:15:00Z"


def test_duplicate_keys_last_wins_on_both_paths() -> None:
    body = with_()[:-1] + b', "lat": 3}'
    assert decode_report(body).lat == 3.0
    assert decode_report(body[:-1] + b', "x": 1}').lat == 3.0


# --- Report constructor, make_report --------------------------------------------------------


def test_report_constructor_defaults() -> None:
    plus_one = timezone(timedelta(hours=1))
    report = Report(
        "d1", datetime(2026, 11, 28, 11, 15, tzinfo=plus_one), 1.0, 2.0, [], [], extra={}
    )
    assert report.ts == TS
    assert report.ts.tzinfo is UTC
    assert report.report_id == "d1:2026-11-28T11:15:00+01:00"
    assert report.extra is None
    assert Report("d1", TS, 1.0, 2.0, [], []).report_id == "d1:2026-11-28T10:15:00Z"


def test_report_constructor_rejects_naive_ts() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Report("d1", datetime(2026, 11, 28, 10, 15), 1.0, 2.0, [], [])


def test_report_is_frozen() -> None:
    report = decode_report(with_())
    with pytest.raises(AttributeError):
        report.lat = 3.0  # type: ignore[misc]


def test_make_report() -> None:
    report = make_report(
        "d1", TS, 1, 2, [("Alice", 3), Citizen("Bob", 90)], ["hi"], extra={"battery": 5}
    )
    assert report.citizens == [Citizen("Alice", 3), Citizen("Bob", 90)]
    assert report.report_id == "d1:2026-11-28T10:15:00Z"
    assert report.extra == {"battery": 5}
    assert make_report("d1", "2026-11-28T11:15:00+01:00", 0, 0).report_id == (
        "d1:2026-11-28T11:15:00+01:00"
    )
    assert make_report("d1", TS, 0, 0, report_id="r").report_id == "r"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"drone_id": "a.b"}, "drone_id must be 1-64 chars of [A-Za-z0-9_-]"),
        ({"ts": datetime(2026, 11, 28)}, "ts must be RFC 3339 with a zone"),
        ({"lat": 95}, "lat 95 out of range -90..90"),
        ({"citizens": [("Alice", 101)]}, "citizens[0].peacescore must be an integer 0..100"),
    ],
)
def test_make_report_validates(kwargs: dict[str, Any], reason: str) -> None:
    parts: dict[str, Any] = {"drone_id": "d1", "ts": TS, "lat": 0, "lon": 0, **kwargs}
    with pytest.raises(InvalidReport) as info:
        make_report(**parts)
    assert info.value.reason == reason


# --- drone ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["d", "drone-0042", "A_b-9", "x" * 64])
def test_valid_drone_id(value: str) -> None:
    assert valid_drone_id(value)


@pytest.mark.parametrize(
    "value", ["", "x" * 65, "a b", "a*", "a>", "a.b", "a\n", "\na", "é", "a\x00", None, 42]
)
def test_invalid_drone_id(value: object) -> None:
    assert not valid_drone_id(value)


# --- split_batch ------------------------------------------------------------------------------


def test_split_batch_array_items_untouched() -> None:
    body = b' [ {"drone_id" : "a"} ,\n 2, "x", [1, 2] ] '
    assert split_batch(body) == [b'{"drone_id" : "a"}', b"2", b'"x"', b"[1, 2]"]


@pytest.mark.parametrize("body", [with_(), b"42", b'"x"', b"null", b" {} "])
def test_split_batch_non_array_is_one_item(body: bytes) -> None:
    assert split_batch(body) == [body]


def test_split_batch_empty_array() -> None:
    assert split_batch(b"[]") == []


def test_split_batch_items_decode() -> None:
    body = b"[" + with_() + b"," + with_(drone_id="d2") + b"]"
    assert [decode_report(item).drone_id for item in split_batch(body)] == ["drone-0042", "d2"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not JSON: input data was truncated"),
        (b"hello", "not JSON: invalid character (byte 0)"),
        (b"[1,", "not JSON: input data was truncated"),
        (b"[1] x", "not JSON: trailing characters (byte 5)"),
        (b'{"a": 1', "not JSON: input data was truncated"),
        (b"{} x", "not JSON: trailing characters (byte 4)"),
        (b"\xff", "not valid UTF-8"),
        (b"[\xff", "not valid UTF-8"),
        (b"[" * 5000 + b"]" * 5000, "JSON nested too deeply"),
    ],
)
def test_split_batch_not_json(body: bytes, reason: str) -> None:
    with pytest.raises(InvalidReport) as info:
        split_batch(body)
    assert info.value.reason == reason


# --- alerts -------------------------------------------------------------------------------------

ALERT = Alert(
    alert_id="drone-0042:2026-11-28T10:15:00Z/1",
    report_id="drone-0042:2026-11-28T10:15:00Z",
    drone_id="drone-0042",
    ts=TS,
    lat=48.856613,
    lon=2.352222,
    citizen="Bob Durand",
    peacescore=12,
    severity="minor",
    words=["peace"],
    raised_at="2026-11-28T10:15:00.250000Z",
)


def test_alert_round_trip_and_shape() -> None:
    encoded = encode_alert(ALERT)
    assert decode_alert(encoded) == ALERT
    assert list(msgspec.json.decode(encoded)) == [
        "alert_id",
        "report_id",
        "drone_id",
        "ts",
        "lat",
        "lon",
        "citizen",
        "peacescore",
        "severity",
        "words",
        "raised_at",
    ]


@pytest.mark.parametrize(
    "payload",
    [b"", b"\xff", b"[]", encode_alert(ALERT).replace(b'"minor"', b'"meh"'), b'{"alert_id": "a"}'],
)
def test_decode_alert_invalid(payload: bytes) -> None:
    with pytest.raises(InvalidReport, match=r"^not an alert: "):
        decode_alert(payload)


def test_format_raised_at() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert format_raised_at(TS) == "2026-11-28T10:15:00.000000Z"
    assert format_raised_at(datetime(2026, 11, 28, 12, 15, 0, 5, plus_two)) == (
        "2026-11-28T10:15:00.000005Z"
    )
    assert format_raised_at(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00.000000Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_raised_at(datetime(2026, 11, 28))


# --- properties -------------------------------------------------------------------------------

KNOWN = {"drone_id", "ts", "lat", "lon", "citizens", "words", "report_id"}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
timestamps = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=offsets
)
drone_ids = st.from_regex(r"\A[A-Za-z0-9_-]{1,64}\Z")
citizens = st.builds(
    Citizen, st.text(min_size=1, max_size=200), st.integers(min_value=0, max_value=100)
)
words = st.text(min_size=1, max_size=100)
extras = st.none() | st.dictionaries(
    st.text(max_size=10).filter(lambda k: k not in KNOWN), json_values, max_size=3
)
reports = st.builds(
    Report,
    drone_id=drone_ids,
    ts=timestamps,
    lat=st.floats(min_value=-90, max_value=90),
    lon=st.floats(min_value=-180, max_value=180),
    citizens=st.lists(citizens, max_size=5),
    words=st.lists(words, max_size=10),
    report_id=st.just("") | st.text(min_size=1, max_size=128),
    extra=extras,
)


@given(reports)
def test_any_valid_report_round_trips(report: Report) -> None:
    assert decode_report(encode_report(report)) == report


@given(st.binary(max_size=200))
def test_any_bytes_raise_only_invalid_report(payload: bytes) -> None:
    assert_precise(outcome(payload))


def _valid_obj() -> st.SearchStrategy[dict[str, Any]]:
    return reports.map(lambda r: msgspec.json.decode(encode_report(r)))


@st.composite
def nearly_valid(draw: st.DrawFn) -> dict[str, Any]:
    """A valid report object with a few fields (or citizens, or words) broken or dropped."""
    obj = draw(_valid_obj())
    for name in draw(st.lists(st.sampled_from(sorted(KNOWN)), max_size=3)):
        action = draw(st.sampled_from(["drop", "replace", "inner"]))
        if action == "drop":
            obj.pop(name, None)
        elif action == "replace" or not isinstance(obj.get(name), list) or not obj[name]:
            obj[name] = draw(json_values)
        else:
            items = obj[name]
            index = draw(st.integers(min_value=0, max_value=len(items) - 1))
            if name == "citizens" and isinstance(items[index], dict) and draw(st.booleans()):
                items[index][draw(st.sampled_from(["name", "peacescore", "other"]))] = draw(
                    json_values
                )
            else:
                items[index] = draw(json_values)
    return obj


@given(nearly_valid(), st.booleans())
def test_json_objects_raise_only_invalid_report_with_a_precise_reason(
    obj: dict[str, Any], ascii_only: bool
) -> None:
    reason = outcome(json.dumps(obj, ensure_ascii=ascii_only).encode())
    assert_precise(reason)
    # Adding an unknown field switches to the other decoding path: same verdict, same reason.
    assert outcome(json.dumps({**obj, "zz_extra": 1}).encode()) == reason


@given(json_values)
def test_any_json_value_raises_only_invalid_report(value: Any) -> None:
    assert_precise(outcome(json.dumps(value).encode()))


@given(
    st.lists(st.binary(max_size=20) | json_values.map(lambda v: json.dumps(v).encode()), max_size=4)
)
def test_split_batch_raises_only_invalid_report(parts: list[bytes]) -> None:
    body = b"[" + b",".join(parts) + b"]"
    try:
        items = split_batch(body)
    except InvalidReport:
        return
    assert all(item in body for item in items)
