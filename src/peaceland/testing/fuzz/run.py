"""A fuzzing run: the components in their own processes, both paths at once, then every
payload accounted for (REPORTS, the archive, the dead letters)."""

import asyncio
import collections
import contextlib
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp

from peaceland.analytics import connect as connect_archive
from peaceland.analytics import run_query
from peaceland.config import Endpoints
from peaceland.contract import (
    DEADLETTER_STREAM,
    ERROR_HEADER,
    REPORTS_PREFIX,
    REPORTS_STREAM,
)
from peaceland.servers import free_port
from peaceland.stream import AckPolicy, ConsumerConfig, DeliverPolicy, JetStreamContext, NatsClient
from peaceland.stream import connect as connect_service
from peaceland.testing.fuzz.payloads import DRAIN_TIMEOUT_S, MAX_EXAMPLES, Payloads, digest
from peaceland.testing.fuzz.senders import call, send_http, send_nats
from peaceland.testing.processes import component

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
        config=ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=first_seq,
            ack_policy=AckPolicy.NONE,
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
async def ingest_components(
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
        async with ingest_components(data_dir, env or {}, run) as (url, key_prefix):
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
