"""Sending the payloads: ``POST /api/v1/reports`` batches, and NATS publishes as drones do;
every answer checked against what the contract says of each item."""

import asyncio
import collections
import dataclasses
import json
import time
from typing import Any

import aiohttp

from peaceland.contract import (
    MSG_ID_HEADER,
    REPORTS_PREFIX,
)
from peaceland.stream import connect_once
from peaceland.testing.fuzz.payloads import MAX_EXAMPLES, REQUEST_TIMEOUT_S, Case, digest

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
    nc = await connect_once(publisher_url, name="peaceland-fuzz-fleet")
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
