"""Generated payloads of every sort, each with what the contract says of it."""

import dataclasses
import hashlib
import json
import random
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from peaceland.contract import (
    MAX_REPORT_BYTES,
    valid_drone_id,
)

START: Final = datetime(2026, 11, 28, tzinfo=UTC)
#: Share of each kind among generated payloads (NATS only: ``mismatch``).
WEIGHTS: Final[Mapping[str, float]] = {
    "valid": 0.50,
    "subtle": 0.25,
    "wrong_type": 0.06,
    "bad_utf8": 0.05,
    "garbage": 0.05,
    "deep": 0.03,
    "huge": 0.003,
    "mismatch": 0.057,
}
MAX_EXAMPLES: Final = 10
DRAIN_TIMEOUT_S: Final = 180.0
REQUEST_TIMEOUT_S: Final = 120.0


def digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=16).digest()


# --- payloads -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Case:
    """One generated payload and what the contract says of it."""

    kind: str
    payload: bytes
    valid: bool
    #: Must be a request body of its own: it cannot be an item of a JSON array body.
    alone: bool
    #: The subject token a drone would publish it on (NATS).
    token: str
    report_id: str | None = None


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


class Payloads:
    """Deterministic payloads for one path (``h``: HTTP, ``n``: NATS) of one run."""

    def __init__(self, run: str, path: str, seed: int) -> None:
        self.prefix = f"fz{run}{path}"
        self.nats = path == "n"
        self.rng = random.Random(f"{seed}/{run}/{path}")
        kinds = [k for k in WEIGHTS if self.nats or k != "mismatch"]
        self.kinds = kinds
        self.weights = [WEIGHTS[k] for k in kinds]

    def drone(self, index: int) -> str:
        return f"{self.prefix}{index % 64}"

    def cases(self, count: int) -> Iterator[Case]:
        for index in range(count):
            kind = self.rng.choices(self.kinds, self.weights)[0]
            yield getattr(self, kind)(index)

    def _text(self, low: int, high: int) -> str:
        rng = self.rng
        alphabet = "abcdefghijklmnopqrstuvwxyz ÉéçøΩЖ中😀-'"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))

    def _report(self, index: int) -> dict[str, Any]:
        rng = self.rng
        drone = self.drone(index)
        ts = (START + timedelta(seconds=index)).isoformat().replace("+00:00", "Z")
        obj: dict[str, Any] = {
            "drone_id": drone,
            "ts": ts,
            "lat": round(rng.uniform(-90, 90), 6),
            "lon": round(rng.uniform(-180, 180), 6),
            "citizens": [
                {
                    "name": self._text(1, 20),
                    "peacescore": rng.choice([rng.randint(20, 100)] * 9 + [rng.randint(0, 19)]),
                }
                for _ in range(rng.randint(0, 4))
            ],
            "words": [self._text(1, 12) for _ in range(rng.randint(0, 6))],
        }
        if rng.random() < 0.5:
            obj["report_id"] = f"{self.prefix}-{index}"
        if rng.random() < 0.1:
            obj["battery"] = rng.random()
            obj["firmware"] = {"version": "1.2.3", "flags": [1, None, True]}
        return obj

    @staticmethod
    def _id(obj: dict[str, Any]) -> str:
        return str(obj.get("report_id") or f"{obj['drone_id']}:{obj['ts']}")

    # Each kind: index → Case.

    def valid(self, index: int) -> Case:
        rng = self.rng
        obj = self._report(index)
        edge = rng.randrange(12)
        if edge == 0:
            obj["lat"] = rng.choice([90, -90, 90.0, -90.0, 0, -0.0])
        elif edge == 1:
            obj["lon"] = rng.choice([180, -180, 180.0, -180.0])
        elif edge == 2:
            obj["citizens"] = [{"name": "n" * 200, "peacescore": rng.choice([0, 100])}] * 100
        elif edge == 3:
            obj["words"] = rng.choice([["w" * 100] * 10, ["w"] * 1000])
        elif edge == 4:
            obj["report_id"] = f"{self.prefix}-{index}-".ljust(128, "x")
        elif edge == 5:
            obj["drone_id"] = self.drone(index).ljust(64, "Z")
        elif edge == 6:
            obj["ts"] = (START + timedelta(seconds=index)).astimezone().isoformat()
            obj["ts"] = obj["ts"][:19] + ".123456789+05:30"
        return Case("valid", _dumps(obj), True, False, obj["drone_id"], self._id(obj))

    def mismatch(self, index: int) -> Case:
        obj = self._report(index)
        return Case("mismatch", _dumps(obj), False, False, f"{self.prefix}other")

    def subtle(self, index: int) -> Case:
        rng = self.rng
        obj = self._report(index)
        breaks: list[Callable[[dict[str, Any]], None]] = [
            lambda o: o.update(lat=rng.choice([90.0000001, -90.0000001, 91, 1e300])),
            lambda o: o.update(lon=rng.choice([180.0000001, -180.5, 181])),
            lambda o: o.update(drone_id=rng.choice(["", "d" * 65, "a.b", "a b", "a*", "ä"])),
            lambda o: o.update(ts=rng.choice(["2026-11-28T10:15:00", "2026-02-30T00:00:00Z"])),
            lambda o: o.update(ts="2026-11-28T10:15:00." + "1" * 28 + "Z"),
            lambda o: o.update(ts="0001-01-01T00:00:00+01:00"),
            lambda o: o.update(citizens=[{"name": "a", "peacescore": rng.choice([-1, 101])}]),
            lambda o: o.update(citizens=[{"name": "a", "peacescore": rng.choice([50.0, True])}]),
            lambda o: o.update(citizens=[{"name": rng.choice(["", "n" * 201]), "peacescore": 5}]),
            lambda o: o.update(citizens=[{"name": "a", "peacescore": 5, "age": 40}]),
            lambda o: o.update(citizens=[{"name": "a", "peacescore": 5}] * 101),
            lambda o: o.update(words=[rng.choice(["", "w" * 101])]),
            lambda o: o.update(words=["w"] * 1001),
            lambda o: o.update(report_id=rng.choice(["", "r" * 129, 7])),
            lambda o: o.pop(rng.choice(["drone_id", "ts", "lat", "lon", "citizens", "words"])),
            lambda o: o.update(lat=rng.choice(["48.8", None, True, [1.0]])),
            lambda o: o.update(citizens=rng.choice([{}, "Alice", None, ["Alice"]])),
            lambda o: o.update(words=rng.choice([{}, "peace", None, [1]])),
        ]
        rng.choice(breaks)(obj)
        drone = obj.get("drone_id")
        token = drone if valid_drone_id(drone) else f"{self.prefix}bad"
        return Case("subtle", _dumps(obj), False, False, str(token))

    def wrong_type(self, index: int) -> Case:
        rng = self.rng
        choices: list[Any] = [42, -1.5, "report", None, True, False, [], [1, 2], [{}], {"a": 1}]
        value = rng.choice(choices)
        if isinstance(value, dict):
            value = {"drone_id": self.drone(index), "nested": self._report(index)}
        return Case("wrong_type", _dumps(value), False, False, f"{self.prefix}bad")

    def bad_utf8(self, index: int) -> Case:
        rng = self.rng
        obj = self._report(index)
        obj["words"] = ["before", "MARK", "after"]
        bad = rng.choice([b"\xff", b"\xfe\xfe", b"\xc3", b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80"])
        payload = _dumps(obj).replace(b"MARK", b"MA" + bad + b"RK")
        return Case("bad_utf8", payload, False, False, obj["drone_id"])

    def garbage(self, index: int) -> Case:
        rng = self.rng
        valid = _dumps(self._report(index))
        makers: list[Callable[[], bytes]] = [
            lambda: rng.randbytes(rng.randint(0, 300)),
            lambda: valid[: rng.randint(0, len(valid) - 1)],
            lambda: valid + rng.choice([b"x", b"}", b",", b"{}"]),
            lambda: b"\xef\xbb\xbf" + valid,
            lambda: valid.replace(b'"lat":', b'"lat":NaN,"x":', 1),
            lambda: valid.replace(b'"lat":', b'"lat":1e400,"x":', 1),
            lambda: b"{" * rng.randint(1, 50),
            lambda: b"",
            lambda: b" \n\t ",
            lambda: bytes(rng.choice(b'{}[]":,0123 aeflnrstu\\') for _ in range(40)),
        ]
        payload = rng.choice(makers)()
        if payload.lstrip(b" \t\r\n")[:1] == b"[":
            payload = b"x" + payload  # a body starting with "[" is a batch: keep it one item
        return Case("garbage", payload, False, True, f"{self.prefix}bad")

    def deep(self, index: int) -> Case:
        rng = self.rng
        obj = self._report(index)
        shallow = rng.random() < 0.5
        depth = rng.randint(2, 400) if shallow else rng.randint(1000, 6000)
        opener, closer = rng.choice([(b"[", b"]"), (b'{"k":', b"}")])
        payload = _dumps(obj)[:-1] + b',"deep":' + opener * depth + b"0" + closer * depth + b"}"
        if shallow:
            return Case("deep", payload, True, False, obj["drone_id"], self._id(obj))
        return Case("deep", payload, False, True, obj["drone_id"])

    def huge(self, index: int) -> Case:
        rng = self.rng
        obj = self._report(index)
        size = rng.choice([MAX_REPORT_BYTES + 1, rng.randint(MAX_REPORT_BYTES + 2, 300_000)])
        obj["pad"] = ""
        obj["pad"] = "x" * (size - len(_dumps(obj)))
        return Case("huge", _dumps(obj), False, True, obj["drone_id"])
