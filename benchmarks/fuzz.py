"""Fuzzing the ingest paths end to end: every payload accounted for, nothing stalls.

    .venv/bin/python -m benchmarks.fuzz --payloads 100000 [--seed 1] [--nats-share 0.5]

Generates payloads of every sort — valid reports (boundary values included), subtly invalid
ones (one rule broken at its boundary), wrong types, bad UTF-8, garbage, huge payloads, deep
nesting, and valid reports sent on another drone's subject — and sends them, against a
private embedded stack with a real gateway, alerter and archiver (each its own process):

* through ``POST /api/v1/reports``: JSON-array bodies mixing good and bad items (batches), and
  the payloads that cannot be an array item (garbage, too deep, too large) as bodies of their
  own; every answer is checked item by item against what was sent;
* straight onto NATS, one publish per payload on ``peaceland.reports.<drone_id>``, as drones
  do (with the fleet's credentials when the servers require them), each acknowledged by
  JetStream.

Throughout, ``/healthz`` is probed; afterwards both consumers must have drained REPORTS and
every payload must be accounted for: each valid report stored in REPORTS and archived exactly
once (the ``reports`` view), each invalid one dead-lettered untouched with a reason — by the
gateway for HTTP items, by the alerter and the archiver for what was published on NATS.

``run_fuzz`` is what the test calls; ``main`` runs it on a private stack and writes
``benchmarks/results/fuzz.json``. The summary lists any problem found in ``problems``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import hashlib
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import aiohttp
import nats
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js import api as js_api

from benchmarks.common import component, machine, private_stack, write_results
from peaceland.access import Role, TokenStore
from peaceland.analytics import connect as connect_archive
from peaceland.analytics import run_query
from peaceland.config import Endpoints
from peaceland.contract import (
    DEADLETTER_STREAM,
    ERROR_HEADER,
    MAX_REPORT_BYTES,
    MSG_ID_HEADER,
    REPORTS_PREFIX,
    REPORTS_STREAM,
    valid_drone_id,
)
from peaceland.servers import free_port
from peaceland.stream import connect as connect_service

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


# --- HTTP -------------------------------------------------------------------------------------


def auth_headers(token: str | None) -> dict[str, str]:
    """Every HTTP call of the fuzzer goes through here: the bearer token, when there is one."""
    return {"Authorization": f"Bearer {token}"} if token else {}


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    token: str | None,
    *,
    data: bytes | None = None,
) -> tuple[int, bytes]:
    headers = auth_headers(token)
    if data is not None:
        headers["Content-Type"] = "application/json"
    async with http.request(method, url, data=data, headers=headers) as resp:
        return resp.status, await resp.read()


@dataclasses.dataclass(slots=True)
class Tally:
    """What one path sent and saw; ``expected_dead``: payload digests → count, per source."""

    payloads: int = 0
    valid: int = 0
    requests: int = 0
    single_requests: int = 0
    retries: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    seconds: float = 0.0
    statuses: collections.Counter[int] = dataclasses.field(default_factory=collections.Counter)
    kinds: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    report_ids: set[str] = dataclasses.field(default_factory=set)
    expected_dead: collections.Counter[bytes] = dataclasses.field(
        default_factory=collections.Counter
    )
    #: digest → the reason the sender was given (gateway), to compare with the header.
    reasons: dict[bytes, str] = dataclasses.field(default_factory=dict)
    mismatches: list[str] = dataclasses.field(default_factory=list)

    def problem(self, text: str) -> None:
        self.mismatches.append(text)

    def summary(self) -> dict[str, Any]:
        return {
            "payloads": self.payloads,
            "valid": self.valid,
            "invalid": self.payloads - self.valid,
            "requests": self.requests,
            "single_requests": self.single_requests,
            "retries": self.retries,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "seconds": round(self.seconds, 2),
            "payloads_per_s": round(self.payloads / self.seconds) if self.seconds else None,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "kinds": dict(sorted(self.kinds.items())),
            "verdict_mismatches": len(self.mismatches),
            "mismatch_examples": self.mismatches[:MAX_EXAMPLES],
        }


def _check_answer(tally: Tally, items: list[Case], body: bytes, status: int, raw: bytes) -> None:
    """The answer to one body against what its items are, and what to expect downstream."""
    is_batch = len(items) != 1 or not items[0].alone
    try:
        answer = json.loads(raw)
    except ValueError:
        tally.problem(f"status {status}: answer is not JSON: {raw[:80]!r}")
        return
    valid = [i for i, c in enumerate(items) if c.valid]
    invalid = [i for i, c in enumerate(items) if not c.valid]
    errors = answer.get("errors", [])
    if status not in (202, 413, 422):
        tally.problem(f"status {status} for {len(items)} items: {answer}")
        return
    expected_status = 202 if valid else 422
    if not is_batch and items[0].kind == "huge":
        expected_status = 413
    if status != expected_status:
        kinds = sorted({items[i].kind for i in invalid})
        tally.problem(f"status {status}, expected {expected_status} ({kinds}): {str(answer)[:200]}")
    got = [e.get("index") for e in errors]
    if answer.get("accepted") != len(valid) or got != invalid:
        wrong = sorted(set(got) ^ set(invalid))[:3]
        details = [(items[i].kind, items[i].payload[:120]) for i in wrong if i < len(items)]
        tally.problem(f"accepted {answer.get('accepted')} of {len(valid)} valid; {details}")
    tally.accepted += answer.get("accepted", 0)
    tally.duplicates += answer.get("duplicates", 0)
    tally.rejected += len(errors)
    for error in errors:
        reason = error.get("error")
        if not isinstance(reason, str) or not reason.strip():
            tally.problem(f"item {error.get('index')}: no reason")
    by_index = {e.get("index"): e.get("error", "") for e in errors}
    for index, case in enumerate(items):
        if case.valid and case.report_id:
            tally.report_ids.add(case.report_id)
        elif not case.valid and index in by_index:
            key = digest(case.payload if is_batch else body)
            tally.expected_dead[key] += 1
            tally.reasons[key] = " ".join(str(by_index[index]).split())[:1000]


async def send_http(
    base_url: str,
    token: str | None,
    cases: list[Case],
    *,
    batch: int,
    concurrency: int,
) -> Tally:
    tally = Tally(payloads=len(cases))
    bodies: list[list[Case]] = []
    current: list[Case] = []
    for case in cases:
        tally.kinds[case.kind] += 1
        tally.valid += case.valid
        if case.alone:
            bodies.append([case])
            continue
        current.append(case)
        if len(current) >= batch:
            bodies.append(current)
            current = []
    if current:
        bodies.append(current)
    queue: asyncio.Queue[list[Case]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    url = base_url + "/api/v1/reports"
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)

    async def worker(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            items = queue.get_nowait()
            alone = len(items) == 1 and items[0].alone
            body = items[0].payload if alone else b"[" + b",".join(c.payload for c in items) + b"]"
            for _attempt in range(10):
                status, raw = await call(http, "POST", url, token, data=body)
                tally.requests += 1
                tally.single_requests += alone
                tally.statuses[status] += 1
                if status not in (429, 503):  # told to retry: over a limit, or not stored
                    break
                tally.retries += 1
                await asyncio.sleep(1.0)
            _check_answer(tally, items, body, status, raw)

    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    tally.seconds = time.perf_counter() - started
    return tally


# --- NATS -------------------------------------------------------------------------------------


async def send_nats(publisher_url: str, cases: list[Case], *, window: int) -> Tally:
    """One JetStream publish per payload, as drones do; at most ``window`` unacknowledged."""
    tally = Tally(payloads=len(cases))
    nc = await nats.connect(publisher_url, name="peaceland-fuzz-fleet")
    js = nc.jetstream()
    started = time.perf_counter()
    slots = asyncio.Semaphore(window)

    async def one(case: Case) -> None:
        headers = {MSG_ID_HEADER: case.report_id} if case.valid and case.report_id else None
        try:
            for _attempt in range(10):
                try:
                    ack = await js.publish(
                        REPORTS_PREFIX + case.token, case.payload, timeout=30, headers=headers
                    )
                    break
                except TimeoutError:
                    tally.retries += 1
            else:
                tally.problem(f"{case.kind}: never acknowledged")
                return
        finally:
            slots.release()
        tally.requests += 1
        if ack.duplicate:
            tally.duplicates += 1
            tally.problem(f"{case.kind}: stored as a duplicate ({case.report_id})")
            return
        tally.accepted += 1
        if case.valid and case.report_id:
            tally.report_ids.add(case.report_id)
        elif not case.valid:
            tally.expected_dead[digest(case.payload)] += 1

    tasks: list[asyncio.Task[None]] = []
    try:
        for case in cases:
            tally.kinds[case.kind] += 1
            tally.valid += case.valid
            await slots.acquire()
            tasks.append(asyncio.create_task(one(case)))
        await asyncio.gather(*tasks)
    finally:
        tally.seconds = time.perf_counter() - started
        await nc.drain()
    return tally


# --- checks -----------------------------------------------------------------------------------


async def drained(js: JetStreamContext, durables: list[str]) -> dict[str, int]:
    """Messages of REPORTS each durable has not yet settled (pending + unacknowledged)."""
    left: dict[str, int] = {}
    for durable in durables:
        try:
            info = await js.consumer_info(REPORTS_STREAM, durable)
        except Exception:  # not created yet
            left[durable] = -1
            continue
        left[durable] = (info.num_pending or 0) + (info.num_ack_pending or 0)
    return left


async def read_deadletters(
    js: JetStreamContext, first_seq: int
) -> tuple[dict[str, collections.Counter[bytes]], dict[str, dict[bytes, str]], int]:
    """Every dead letter stored from ``first_seq`` on: digests and reasons, per source."""
    info = await js.stream_info(DEADLETTER_STREAM)
    last = info.state.last_seq
    found: dict[str, collections.Counter[bytes]] = collections.defaultdict(collections.Counter)
    reasons: dict[str, dict[bytes, str]] = collections.defaultdict(dict)
    without_reason = 0
    if last < first_seq:
        return found, reasons, 0
    sub = await js.pull_subscribe(
        "peaceland.deadletter.>",
        durable=None,
        stream=DEADLETTER_STREAM,
        config=js_api.ConsumerConfig(
            deliver_policy=js_api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=first_seq,
            ack_policy=js_api.AckPolicy.NONE,
            inactive_threshold=60.0,
        ),
    )
    seen = 0
    try:
        while seen < last - first_seq + 1:
            try:
                msgs = await sub.fetch(1000, timeout=5)
            except TimeoutError:
                break
            for msg in msgs:
                seen += 1
                source = msg.subject.rsplit(".", 1)[-1]
                key = digest(msg.data)
                found[source][key] += 1
                reason = (msg.headers or {}).get(ERROR_HEADER, "")
                if not reason.strip():
                    without_reason += 1
                reasons[source][key] = reason
    finally:
        await sub.unsubscribe()
    return found, reasons, without_reason


def compare(
    expected: collections.Counter[bytes], found: collections.Counter[bytes]
) -> dict[str, int]:
    missing = sum((expected - found).values())
    unexpected = sum((found - expected).values())
    return {
        "expected": sum(expected.values()),
        "found": sum(found.values()),
        "missing": missing,
        "unexpected": unexpected,
    }


def archived_ids(
    endpoints: Endpoints, key_prefix: str, drone_prefix: str
) -> collections.Counter[str]:
    con = connect_archive(endpoints, key_prefix=key_prefix)
    try:
        rows = run_query(
            con,
            f"SELECT report_id FROM reports WHERE starts_with(drone_id, '{drone_prefix}')",
        ).rows()
    finally:
        con.close()
    return collections.Counter(str(r["report_id"]) for r in rows)


class HealthProbe:
    """``GET /healthz`` every ``interval`` s while the run lasts: latency and failures."""

    def __init__(self, url: str, interval: float = 0.25) -> None:
        self.url = url
        self.interval = interval
        self.latencies: list[float] = []
        self.failures = 0

    async def run(self, stop: asyncio.Event) -> None:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    status, _ = await call(http, "GET", self.url + "/healthz", None)
                except (aiohttp.ClientError, TimeoutError):
                    status = 0
                self.latencies.append(time.perf_counter() - started)
                self.failures += status != 200
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.interval)

    def summary(self) -> dict[str, Any]:
        ms = sorted(x * 1000 for x in self.latencies) or [0.0]
        return {
            "probes": len(self.latencies),
            "failures": self.failures,
            "median_ms": round(statistics.median(ms), 1),
            "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 1),
            "max_ms": round(ms[-1], 1),
        }


# --- the run ----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def components(
    data_dir: Path, env: Mapping[str, str], run: str
) -> AsyncIterator[tuple[str, str]]:
    """Gateway, alerter and archiver in their own processes; yields (gateway URL, key prefix)."""
    port = free_port()
    key_prefix = f"fuzz-{run}/"
    common = {"PEACELAND_LOG_LEVEL": "ERROR", **env}
    with contextlib.ExitStack() as stack:
        stack.enter_context(component(["gateway", "--port", str(port)], data_dir, **common))
        stack.enter_context(component(["alerter"], data_dir, **common))
        stack.enter_context(
            component(
                ["archiver", "--kind", "reports", "--key-prefix", key_prefix, "--max-age", "1"],
                data_dir,
                **common,
            )
        )
        url = f"http://127.0.0.1:{port}"
        await wait_ready(url)
        yield url, key_prefix


async def wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                status, _ = await call(http, "GET", url + "/readyz", None)
                if status == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"gateway at {url} not ready within {timeout:g} s")
            await asyncio.sleep(0.2)


async def wait_until(
    check: Callable[[], Any], timeout: float, interval: float = 0.5
) -> tuple[bool, float]:
    started = time.perf_counter()
    while True:
        if await check():
            return True, time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            return False, time.perf_counter() - started
        await asyncio.sleep(interval)


async def run_fuzz(
    data_dir: Path,
    endpoints: Endpoints,
    payloads: int,
    *,
    token: str | None = None,
    seed: int = 1,
    nats_share: float = 0.5,
    batch: int = 500,
    concurrency: int = 8,
    window: int = 1024,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Generate ``payloads`` payloads, send them, account for every one; the summary."""
    run = uuid.uuid4().hex[:8]
    on_nats = round(payloads * nats_share)
    started = time.perf_counter()
    http_cases = list(Payloads(run, "h", seed).cases(payloads - on_nats))
    nats_cases = list(Payloads(run, "n", seed).cases(on_nats))
    generated_s = time.perf_counter() - started
    problems: list[str] = []
    nc: NatsClient = await connect_service(endpoints.nats_url, "peaceland-fuzz")
    js = nc.jetstream()
    try:
        with contextlib.suppress(Exception):
            await js.stream_info(DEADLETTER_STREAM)
        first_dead = await _next_seq(js, DEADLETTER_STREAM)
        async with components(data_dir, env or {}, run) as (url, key_prefix):
            probe = HealthProbe(url)
            stop = asyncio.Event()
            probing = asyncio.create_task(probe.run(stop))
            send_started = time.perf_counter()
            http, fleet = await asyncio.gather(
                send_http(url, token, http_cases, batch=batch, concurrency=concurrency),
                send_nats(
                    getattr(endpoints, "publisher_url", endpoints.nats_url),
                    nats_cases,
                    window=window,
                ),
            )
            sent_s = time.perf_counter() - send_started

            async def settled() -> bool:
                return all(v == 0 for v in (await drained(js, ["alerter", "archiver"])).values())

            ok, drain_s = await wait_until(settled, DRAIN_TIMEOUT_S)
            if not ok:
                left = await drained(js, ["alerter", "archiver"])
                problems.append(f"consumers not drained after {DRAIN_TIMEOUT_S:g} s: {left}")
            stop.set()
            await probing
            expected_ids = http.report_ids | fleet.report_ids

            def archive_complete() -> collections.Counter[str]:
                return archived_ids(endpoints, key_prefix, f"fz{run}")

            archived: collections.Counter[str] = collections.Counter()
            archive_started = time.perf_counter()
            while time.perf_counter() - archive_started < 30:
                archived = await asyncio.to_thread(archive_complete)
                if set(archived) >= expected_ids:
                    break
                await asyncio.sleep(1)
        found, reasons, without_reason = await read_deadletters(js, first_dead)
        stored = await _stored_reports(js, f"fz{run}")
    finally:
        await nc.drain()
    total_s = time.perf_counter() - started

    problems += [f"http: {m}" for m in http.mismatches[:MAX_EXAMPLES]]
    problems += [f"nats: {m}" for m in fleet.mismatches[:MAX_EXAMPLES]]
    expected_gateway = http.expected_dead
    expected_consumers = fleet.expected_dead
    dead = {
        "gateway": compare(expected_gateway, found.get("gateway", collections.Counter())),
        "alerter": compare(expected_consumers, found.get("alerter", collections.Counter())),
        "archiver": compare(expected_consumers, found.get("archiver", collections.Counter())),
    }
    for source, counts in dead.items():
        if counts["missing"] or counts["unexpected"]:
            problems.append(f"dead letters from {source}: {counts}")
    other_sources = sorted(set(found) - set(dead))
    if other_sources:
        problems.append(f"dead letters from unexpected sources: {other_sources}")
    if without_reason:
        problems.append(f"{without_reason} dead letters without a {ERROR_HEADER} header")
    gateway_reasons = reasons.get("gateway", {})
    reason_mismatches = sum(
        1 for key, reason in http.reasons.items() if gateway_reasons.get(key, reason) != reason
    )
    if reason_mismatches:
        problems.append(
            f"{reason_mismatches} gateway dead letters whose reason differs from the answer's"
        )
    expected_stored = len(http.report_ids) + fleet.accepted
    if stored != expected_stored:
        problems.append(f"REPORTS holds {stored} messages of this run, expected {expected_stored}")
    missing_ids = expected_ids - set(archived)
    extra_ids = set(archived) - expected_ids
    twice = sum(1 for n in archived.values() if n > 1)
    if missing_ids or extra_ids or twice:
        problems.append(
            f"archive: {len(missing_ids)} missing, {len(extra_ids)} unexpected, {twice} twice"
            f" (e.g. {sorted(missing_ids)[:3]} {sorted(extra_ids)[:3]})"
        )
    health = probe.summary()
    if health["failures"]:
        problems.append(f"/healthz failed {health['failures']} times")
    return {
        "payloads": payloads,
        "seed": seed,
        "run": run,
        "generation_s": round(generated_s, 2),
        "send_s": round(sent_s, 2),
        "drain_s": round(drain_s, 2),
        "total_s": round(total_s, 2),
        "http": http.summary(),
        "nats": fleet.summary(),
        "health": health,
        "accounting": {
            "reports_stored": stored,
            "reports_stored_expected": expected_stored,
            "archived": sum(archived.values()),
            "archived_expected": len(expected_ids),
            "deadletters": dead,
            "gateway_reason_mismatches": reason_mismatches,
        },
        "problems": problems,
    }


async def _next_seq(js: JetStreamContext, stream: str) -> int:
    info = await js.stream_info(stream)
    return info.state.last_seq + 1


async def _stored_reports(js: JetStreamContext, drone_prefix: str) -> int:
    info = await js.stream_info(REPORTS_STREAM, subjects_filter=REPORTS_PREFIX + ">")
    subjects = info.state.subjects or {}
    return sum(n for s, n in subjects.items() if s[len(REPORTS_PREFIX) :].startswith(drone_prefix))


async def drone_token(nats_url: str) -> str:
    """A fresh API token of the ``drone`` role (may only POST reports)."""
    nc = await connect_service(nats_url, "peaceland-fuzz-token")
    try:
        store = await TokenStore.open(nc.jetstream())
        token, _ = await store.create(f"fuzz-{uuid.uuid4().hex[:8]}", Role.DRONE, "fuzz")
        return token
    finally:
        await nc.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--payloads", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--nats-share", type=float, default=0.5)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--token", default=None, help="Bearer token for the HTTP API, if any.")
    args = parser.parse_args(argv)
    info = machine()
    with private_stack() as (settings, endpoints):
        token = args.token or asyncio.run(drone_token(endpoints.nats_url))
        summary = asyncio.run(
            run_fuzz(
                settings.data_dir,
                endpoints,
                args.payloads,
                token=token,
                seed=args.seed,
                nats_share=args.nats_share,
                batch=args.batch,
                concurrency=args.concurrency,
            )
        )
    path = write_results("fuzz", info, summary)
    print(json.dumps(summary, indent=2))
    print(f"written to {path}", file=sys.stderr)
    return 1 if summary["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
