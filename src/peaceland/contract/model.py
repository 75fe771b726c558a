"""Report and Citizen: the wire contract as typed structs, validation and codecs. Pure.

API:

* ``Citizen(name, peacescore)``, ``Report(...)`` — frozen msgspec Structs.
  ``Report.ts`` is a timezone-aware ``datetime`` in UTC; ``Report.report_id`` is always set
  (default ``"{drone_id}:{ts}"`` with ``ts`` exactly as sent); ``Report.extra`` holds the
  unknown top-level fields, or ``None`` when there are none.
* ``decode_report(payload: bytes) -> Report`` — raises ``InvalidReport(reason)`` with a precise
  reason for anything that breaks the contract (never any other exception, for any bytes).
* ``encode_report(report: Report) -> bytes`` — JSON; ``extra`` fields flattened back in, so
  ``decode_report(encode_report(r)) == r``.
* ``make_report(drone_id, ts, lat, lon, citizens, words, ...) -> Report`` — a validated report
  built from parts, exactly as if its JSON had been received.
* ``split_batch(body: bytes) -> list[bytes]`` — a JSON array body → the raw bytes of each item,
  untouched; any other body → ``[body]``. Raises ``InvalidReport`` when the body is not JSON.
* ``Alert``, ``encode_alert``, ``decode_alert``, ``format_raised_at``: in ``contract.alerts``.
* ``valid_drone_id(value) -> bool`` / ``DRONE_ID_RE`` — safe as a NATS subject token.
* ``MAX_REPORT_BYTES = 65536``.

Decoding has two paths. The fast one decodes straight into a constrained struct, which accepts
exactly the valid reports without extra fields (the common case, ~2 µs for a 300-byte report).
Anything else takes the slow path: a generic decode, the extra fields split off, the same
conversion, and on failure a field-by-field check in contract order that names the first problem.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

import msgspec
from msgspec import Meta

from peaceland.contract.errors import InvalidReport

MAX_REPORT_BYTES: Final = 65536
MAX_DRONE_ID_CHARS: Final = 64
MAX_CITIZENS: Final = 100
MAX_NAME_CHARS: Final = 200
MAX_WORDS: Final = 1000
MAX_WORD_CHARS: Final = 100
MAX_REPORT_ID_CHARS: Final = 128
#: Not in the contract table: RFC 3339 allows any number of fraction digits, but a default
#: report_id (drone_id + ":" + ts) must stay within MAX_REPORT_ID_CHARS to survive a round trip.
MAX_TS_CHARS: Final = 48

# \A...\Z, not ^...$: "$" also matches before a trailing newline.
DRONE_ID_PATTERN: Final = r"\A[A-Za-z0-9_-]{1,64}\Z"
DRONE_ID_RE: Final = re.compile(DRONE_ID_PATTERN)

Severity = Literal["critical", "major", "minor"]


def valid_drone_id(value: object) -> bool:
    """True for 1-64 chars of ``[A-Za-z0-9_-]``: never a space, ``.``, ``*`` or ``>``."""
    return isinstance(value, str) and DRONE_ID_RE.match(value) is not None


# The structs hold JSON values only, which never form reference cycles: gc=False is safe and
# keeps millions of decoded reports out of the garbage collector's way.


class Citizen(msgspec.Struct, frozen=True, gc=False, forbid_unknown_fields=True):
    """A citizen recognised near the drone. Unknown keys are rejected: they could not be kept."""

    name: Annotated[str, Meta(min_length=1, max_length=MAX_NAME_CHARS)]
    peacescore: Annotated[int, Meta(ge=0, le=100)]


class Report(msgspec.Struct, frozen=True, gc=False, omit_defaults=True):
    """One drone report. Build it from untrusted data with ``decode_report``/``make_report``.

    The constructor checks nothing but ``ts``: it must be timezone-aware and is normalised to
    UTC. An empty ``report_id`` becomes ``"{drone_id}:{ts}"`` (``ts`` as ``encode_report``
    writes it); an empty ``extra`` becomes ``None``.
    """

    drone_id: str
    ts: datetime
    lat: float
    lon: float
    citizens: list[Citizen]
    words: list[str]
    report_id: str = ""
    extra: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        ts = self.ts
        if ts.tzinfo is not UTC and ts.utcoffset() is None:
            raise ValueError("Report.ts must be timezone-aware")
        if not self.report_id:
            text = _ENCODER.encode(ts)[1:-1].decode()
            msgspec.structs.force_setattr(self, "report_id", f"{self.drone_id}:{text}")
        if ts.tzinfo is not UTC:
            msgspec.structs.force_setattr(self, "ts", ts.astimezone(UTC))
        if self.extra is not None and not self.extra:
            msgspec.structs.force_setattr(self, "extra", None)


class _Wire(msgspec.Struct, gc=False, forbid_unknown_fields=True):
    """The known fields with every contract rule but the RFC 3339 check of ``ts``."""

    drone_id: Annotated[str, Meta(pattern=DRONE_ID_PATTERN)]
    ts: Annotated[str, Meta(max_length=MAX_TS_CHARS)]
    lat: Annotated[float, Meta(ge=-90, le=90)]
    lon: Annotated[float, Meta(ge=-180, le=180)]
    citizens: Annotated[list[Citizen], Meta(max_length=MAX_CITIZENS)]
    words: Annotated[
        list[Annotated[str, Meta(min_length=1, max_length=MAX_WORD_CHARS)]],
        Meta(max_length=MAX_WORDS),
    ]
    report_id: Annotated[str, Meta(min_length=1, max_length=MAX_REPORT_ID_CHARS)] | None = None


_KNOWN_FIELDS: Final = frozenset(_Wire.__struct_fields__)
_REPORT_FIELDS: Final = tuple(f for f in Report.__struct_fields__ if f != "extra")

_ENCODER: Final = msgspec.json.Encoder()
_WIRE_DECODER: Final = msgspec.json.Decoder(_Wire)
_ANY_DECODER: Final = msgspec.json.Decoder()
_BATCH_DECODER: Final = msgspec.json.Decoder(list[msgspec.Raw])
_RAW_DECODER: Final = msgspec.json.Decoder(msgspec.Raw)
# Reads a float literal beyond float range as infinity, to say where it is.
_INFINITY_DECODER: Final = msgspec.json.Decoder(float_hook=float)
_SURROGATE: Final = re.compile("[\ud800-\udfff]")

# What msgspec may raise on arbitrary bytes: DecodeError (ValidationError is a subclass),
# UnicodeDecodeError (a ValueError) for bad UTF-8 in strings, RecursionError for deep nesting.
DECODE_ERRORS: Final = (msgspec.DecodeError, ValueError, RecursionError)


# --- reports ---------------------------------------------------------------------------------


def decode_report(payload: bytes) -> Report:
    """Decode and validate one report; raises ``InvalidReport`` and nothing else, for any bytes."""
    if len(payload) > MAX_REPORT_BYTES:
        raise InvalidReport(
            f"payload is {len(payload)} bytes, over the {MAX_REPORT_BYTES}-byte limit"
        )
    try:
        wire = _WIRE_DECODER.decode(payload)
    except DECODE_ERRORS:
        return _decode_slow(payload)
    return _build(wire, None)


def encode_report(report: Report) -> bytes:
    """JSON for a report, with the ``extra`` fields flattened back into the object.

    ``report_id`` is always written, so a report sent close to ``MAX_REPORT_BYTES`` without
    one may come out a little over the limit; known fields win over same-named ``extra`` keys.
    """
    if report.extra is None:
        return _ENCODER.encode(report)
    obj: dict[str, Any] = {name: getattr(report, name) for name in _REPORT_FIELDS}
    for key, value in report.extra.items():
        obj.setdefault(key, value)
    return _ENCODER.encode(obj)


def make_report(
    drone_id: str,
    ts: datetime | str,
    lat: float,
    lon: float,
    citizens: Iterable[Citizen | tuple[str, int]] = (),
    words: Iterable[str] = (),
    *,
    report_id: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Report:
    """A validated report from parts, exactly as if its JSON had been received.

    A ``datetime`` ts is written as ``encode_report`` writes it (naive ones are invalid).
    Raises ``InvalidReport`` for anything that breaks the contract.
    """
    obj: dict[str, Any] = dict(extra) if extra else {}
    obj.update(
        drone_id=drone_id,
        ts=ts,
        lat=lat,
        lon=lon,
        citizens=[c if isinstance(c, Citizen) else Citizen(*c) for c in citizens],
        words=list(words),
    )
    if report_id is not None:
        obj["report_id"] = report_id
    return decode_report(_ENCODER.encode(obj))


def split_batch(body: bytes) -> list[bytes]:
    """A JSON array → the raw bytes of each item, untouched; any other JSON → ``[body]``.

    Items are not validated here (``decode_report`` does that, one by one); the body is only
    checked to be JSON. Raises ``InvalidReport`` when it is not.
    """
    try:
        items = _BATCH_DECODER.decode(body)
    except msgspec.ValidationError:
        # JSON so far, but not an array: check the whole of it is JSON.
        try:
            _RAW_DECODER.decode(body)
        except DECODE_ERRORS as exc:
            raise InvalidReport(_unreadable(body, exc)) from None
        return [body]
    except DECODE_ERRORS as exc:
        raise InvalidReport(_unreadable(body, exc)) from None
    return [bytes(item) for item in items]


def _build(wire: _Wire, extra: dict[str, Any] | None) -> Report:
    ts = _parse_ts(wire.ts)
    report_id = wire.report_id or f"{wire.drone_id}:{wire.ts}"
    return Report(
        wire.drone_id, ts, wire.lat, wire.lon, wire.citizens, wire.words, report_id, extra
    )


def _parse_ts(text: str) -> datetime:
    try:
        ts = msgspec.convert(text, datetime)
    except msgspec.ValidationError:
        raise InvalidReport("ts must be RFC 3339 with a zone") from None
    if ts.tzinfo is UTC:
        return ts
    if ts.tzinfo is None:
        raise InvalidReport("ts must be RFC 3339 with a zone")
    try:
        return ts.astimezone(UTC)
    except OverflowError:
        raise InvalidReport("ts out of range") from None


def _decode_slow(payload: bytes) -> Report:
    try:
        obj = _ANY_DECODER.decode(payload)
    except DECODE_ERRORS as exc:
        raise InvalidReport(_unreadable(payload, exc)) from None
    if not isinstance(obj, dict):
        raise InvalidReport("JSON but not an object")
    extra: dict[str, Any] | None = None
    if not _KNOWN_FIELDS.issuperset(obj):
        extra = {k: v for k, v in obj.items() if k not in _KNOWN_FIELDS}
        obj = {k: v for k, v in obj.items() if k in _KNOWN_FIELDS}
    try:
        wire = msgspec.convert(obj, _Wire)
    except msgspec.ValidationError as exc:
        _explain(obj)
        # Unreachable while _explain covers every rule of _Wire; kept as a safety net.
        raise InvalidReport(f"does not match the report contract: {exc}") from None
    return _build(wire, extra)


def _unreadable(payload: bytes, exc: BaseException) -> str:
    """The reason for bytes msgspec could not decode at all."""
    try:
        bytes(payload).decode("utf-8")
    except UnicodeDecodeError:
        return "not valid UTF-8"
    if isinstance(exc, RecursionError):
        return "JSON nested too deeply"
    message = str(exc).removeprefix("JSON is malformed: ")
    message = message[:1].lower() + message[1:]
    if isinstance(exc, msgspec.ValidationError):  # a number beyond float range
        try:
            where = _first_path(_INFINITY_DECODER.decode(payload), _is_infinite)
        except DECODE_ERRORS:
            where = None
        return f"{where} is a number out of range" if where else f"JSON {message}"
    if message == "input data was truncated":
        # msgspec says so of a complete document with a lone surrogate escape ("\ud800"),
        # which the standard library reads: if it does, say where the escape is.
        try:
            where = _first_path(json.loads(payload), _has_lone_surrogate)
        except (ValueError, RecursionError):
            where = None
        if where:
            return f"not JSON: lone UTF-16 surrogate escape in {where}"
    return f"not JSON: {message}"


def _first_path(value: Any, wrong: Callable[[Any], bool]) -> str | None:
    """The path (``lat``, ``citizens[0].peacescore``) of the first key or value of a decoded
    JSON document for which ``wrong`` is true, or None. Iterative: documents may be nested
    thousands deep."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if wrong(item):
            return path or "the document"
        if isinstance(item, dict):
            for key in item:
                if wrong(key):
                    return f"{path}.{key!r}" if path else repr(key)
            children = [(f"{path}.{k}" if path else str(k), v) for k, v in item.items()]
        elif isinstance(item, list):
            children = [(f"{path}[{i}]", v) for i, v in enumerate(item)]
        else:
            continue
        stack.extend(reversed(children))  # popped in document order
    return None


def _is_infinite(value: Any) -> bool:
    return isinstance(value, float) and math.isinf(value)


def _has_lone_surrogate(value: Any) -> bool:
    return isinstance(value, str) and _SURROGATE.search(value) is not None


def _explain(obj: dict[str, Any]) -> None:
    """Raise ``InvalidReport`` for the first broken rule, in contract order."""

    def required(name: str) -> Any:
        if name not in obj:
            raise InvalidReport(f"missing required field {name!r}")
        return obj[name]

    if not valid_drone_id(required("drone_id")):
        raise InvalidReport("drone_id must be 1-64 chars of [A-Za-z0-9_-]")
    ts = required("ts")
    if not isinstance(ts, str):
        raise InvalidReport("ts must be RFC 3339 with a zone")
    if len(ts) > MAX_TS_CHARS:
        raise InvalidReport(f"ts has {len(ts)} chars, at most {MAX_TS_CHARS}")
    _parse_ts(ts)
    _check_number("lat", required("lat"), 90)
    _check_number("lon", required("lon"), 180)
    citizens = _check_array("citizens", required("citizens"), MAX_CITIZENS)
    for index, citizen in enumerate(citizens):
        _check_citizen(f"citizens[{index}]", citizen)
    words = _check_array("words", required("words"), MAX_WORDS)
    for index, word in enumerate(words):
        _check_text(f"words[{index}]", word, MAX_WORD_CHARS)
    report_id = obj.get("report_id")
    if report_id is not None:
        if not isinstance(report_id, str):
            raise InvalidReport("report_id must be a string")
        if not 1 <= len(report_id) <= MAX_REPORT_ID_CHARS:
            raise InvalidReport(f"report_id must be 1-{MAX_REPORT_ID_CHARS} chars")


def _check_number(name: str, value: Any, limit: int) -> None:
    # bool is an int subclass, but true is not a number in JSON.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidReport(f"{name} must be a number")
    if not -limit <= value <= limit:  # also false for NaN
        raise InvalidReport(f"{name} {_show(value)} out of range -{limit}..{limit}")


def _check_array(name: str, value: Any, limit: int) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidReport(f"{name} must be an array")
    if len(value) > limit:
        raise InvalidReport(f"{name} has {len(value)} items, at most {limit}")
    return value


def _check_citizen(where: str, citizen: Any) -> None:
    if not isinstance(citizen, dict):
        raise InvalidReport(f"{where} must be an object")
    for name in Citizen.__struct_fields__:
        if name not in citizen:
            raise InvalidReport(f"missing required field '{where}.{name}'")
    _check_text(f"{where}.name", citizen["name"], MAX_NAME_CHARS)
    score = citizen["peacescore"]
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
        raise InvalidReport(f"{where}.peacescore must be an integer 0..100")
    for key in citizen:
        if key not in Citizen.__struct_fields__:
            raise InvalidReport(f"{where} has unknown field {_show(key)}")


def _check_text(where: str, value: Any, limit: int) -> None:
    if not isinstance(value, str):
        raise InvalidReport(f"{where} must be a string")
    if not 1 <= len(value) <= limit:
        raise InvalidReport(f"{where} must be 1-{limit} chars")


def _show(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
