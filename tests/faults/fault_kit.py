"""The fault-injection suite's tools: components as real processes, a steady fleet of drones,
the census of the archive and of ALERTS, and a per-case result record.

Every case runs against a private pair of servers (``fresh_stack``), starts the components it
needs as ``python -m peaceland <component>`` processes (exactly what ``peaceland run`` does),
publishes a steady load, injects its fault, and then checks the archive and the alerts: each
published report once in the ``reports`` view, none missing; each expected alert once in
ALERTS and in the ``alerts`` view.

Results: with ``PEACELAND_FAULT_RESULTS=<dir>`` each case writes ``<dir>/<case>.json``
(published, losses, duplicates, recovery times, seed); the line is printed in any case.
Random choices (when to kill, for how long) come from one seed per case:
``PEACELAND_FAULT_SEED`` if set, else a fresh one, printed and recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import nats
from nats.aio.client import Client as NatsClient
from nats.js import api as js_api
from nats.js.errors import NotFoundError

from peaceland.analytics import catalog
from peaceland.contract import (
    ALERTS_PREFIX,
    ALERTS_STREAM,
    DEFAULT_INBOX_PREFIX,
    MSG_ID_HEADER,
    REPORTS_STREAM,
    report_subject,
)
from peaceland.servers import free_port
from peaceland.stream import connect
from peaceland.testing import Component, machine

RESULTS_ENV = "PEACELAND_FAULT_RESULTS"
SEED_ENV = "PEACELAND_FAULT_SEED"
THRESHOLD = 20  # the default alert threshold
BASE_TS = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
#: Archiver settings of the suite: small, frequent objects, a short redelivery.
ARCHIVER_ARGS = ("archiver", "--max-age", "1", "--ack-wait", "10")


def case_seed(case: str) -> int:
    raw = os.environ.get(SEED_ENV)
    seed = int(raw) if raw else random.SystemRandom().randrange(2**31)
    print(f"[fault {case}] seed {seed} (reproduce with {SEED_ENV}={seed})")
    return seed


def record(case: str, result: Mapping[str, Any]) -> None:
    """Print the case's measurements; write them as JSON when ``PEACELAND_FAULT_RESULTS`` is
    set (a directory, created if needed)."""
    line = {"case": case, "machine": {**machine(), "at": datetime.now(UTC).isoformat()}, **result}
    print(f"[fault {case}] {json.dumps(line, sort_keys=True)}")
    target = os.environ.get(RESULTS_ENV)
    if target:
        folder = Path(target)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{case}.json").write_text(json.dumps(line, indent=2, sort_keys=True) + "\n")


# -- who may do what: URLs and HTTP headers ------------------------------------------------------


def service_url(stack: Any) -> str:
    """The services' own NATS URL (credentials included when the server requires them)."""
    url: str = stack.endpoints.nats_url
    return url


def drone_url(stack: Any) -> str:
    """The NATS URL drones publish with: the fleet role."""
    url: str = stack.endpoints.publisher_url
    return url


def http_headers(stack: Any, role: str) -> dict[str, str]:
    """Headers of every HTTP call of the suite: the bearer token of ``role``."""
    return dict(stack.auth(role))


# -- components as processes (``peaceland.testing.Component``) ----------------------------------


def gateway_component(stack: Any, log_dir: Path) -> tuple[Component, str]:
    port = free_port()
    component = Component(
        stack, ("gateway", "--host", "127.0.0.1", "--port", str(port)), log_dir / "gateway.log"
    )
    return component, f"http://127.0.0.1:{port}"


# -- the fleet -----------------------------------------------------------------------------------


def make_report(drone: str, n: int) -> tuple[str, bytes, list[str]]:
    """Report ``n`` of ``drone`` (one a second of event time): its id, payload and the ids of
    the alerts it must raise. One in ten has an agitated citizen, one in fifty two."""
    ts = (BASE_TS + timedelta(seconds=n)).isoformat().replace("+00:00", "Z")
    report_id = f"{drone}:{ts}"
    citizens: list[tuple[str, int]] = [("Calm Citizen", 60 + n % 40)]
    if n % 10 == 0:
        citizens.append((f"Agitated {drone} {n}", n % THRESHOLD))
    if n % 50 == 0:
        citizens.append((f"Furious {drone} {n}", 1))
    body = {
        "drone_id": drone,
        "ts": ts,
        "lat": 48.8 + (n % 1000) / 10_000,
        "lon": 2.3 - (n % 1000) / 10_000,
        "citizens": [{"name": name, "peacescore": score} for name, score in citizens],
        "words": ["calme", f"w{n % 13}"],
    }
    alerts = [f"{report_id}/{i}" for i, (_, score) in enumerate(citizens) if score < THRESHOLD]
    return report_id, json.dumps(body).encode(), alerts


@dataclasses.dataclass
class Ledger:
    """What the fleet was told was stored: the reports acknowledged to it, and their alerts."""

    reports: dict[str, bytes] = dataclasses.field(default_factory=dict)
    alerts: set[str] = dataclasses.field(default_factory=set)
    attempts: int = 0
    failures: int = 0
    #: Acknowledgements saying "already stored": a retry of something stored before.
    duplicate_acks: int = 0

    def add(self, report_id: str, payload: bytes, alerts: Sequence[str]) -> None:
        self.reports[report_id] = payload
        self.alerts.update(alerts)


class Fleet:
    """``drones`` drones publishing ``rate`` reports a second in all, each report retried until
    JetStream acknowledges it (as a drone does), with ``Nats-Msg-Id`` = report id."""

    def __init__(self, url: str, *, drones: int = 10, rate: float = 200, prefix: str = "ft"):
        self.url = url
        self.drones = [f"{prefix}-{i:03d}" for i in range(drones)]
        self.rate = rate
        self.ledger = Ledger()
        #: When each report was first published (monotonic), for end-to-end latencies.
        self.sent_at: dict[str, float] = {}
        self._next = 0
        self._retry: list[tuple[str, str, bytes, list[str]]] = []

    def _new(self, count: int) -> list[tuple[str, str, bytes, list[str]]]:
        out = []
        for _ in range(count):
            n, self._next = self._next, self._next + 1
            drone = self.drones[n % len(self.drones)]
            report_id, payload, alerts = make_report(drone, n // len(self.drones))
            self.sent_at[report_id] = time.monotonic()
            out.append((drone, report_id, payload, alerts))
        return out

    async def run(self, stop: asyncio.Event, tick_s: float = 0.1) -> Ledger:
        """Publish until ``stop`` is set, then until every report is acknowledged."""
        nc = await connect_forever(self.url, "fault-fleet")
        js = nc.jetstream()
        try:
            began = time.monotonic()
            while not stop.is_set() or self._retry:
                due = int((time.monotonic() - began) * self.rate) - self._next
                todo = self._retry + ([] if stop.is_set() else self._new(max(0, due)))
                self._retry = []
                if todo:
                    await self._publish(js, todo)
                await asyncio.sleep(tick_s)
        finally:
            await nc.close()
        return self.ledger

    async def _publish(self, js: Any, todo: list[tuple[str, str, bytes, list[str]]]) -> None:
        results = await asyncio.gather(
            *(
                js.publish(report_subject(d), p, timeout=2.0, headers={MSG_ID_HEADER: r})
                for d, r, p, _ in todo
            ),
            return_exceptions=True,
        )
        ledger = self.ledger
        for item, result in zip(todo, results, strict=True):
            ledger.attempts += 1
            if isinstance(result, js_api.PubAck):
                ledger.add(item[1], item[2], item[3])
                ledger.duplicate_acks += bool(result.duplicate)
            else:
                ledger.failures += 1
                self._retry.append(item)


async def connect_forever(url: str, name: str) -> NatsClient:
    """A client that reconnects for ever (as components do), with nats-py's own inbox; ``url``
    may list every node of a cluster."""
    return await connect(url, name, inbox_prefix=DEFAULT_INBOX_PREFIX)


class HttpFleet:
    """Drones posting one report per request to a gateway, ``workers`` requests at a time;
    a report not answered 202 (connection refused or cut, 503) is posted again."""

    def __init__(
        self, base_url: str, headers: Mapping[str, str], *, workers: int = 8, rate: float = 150
    ) -> None:
        self.base_url = base_url
        self.headers = dict(headers)
        self.workers = workers
        self.rate = rate
        self.ledger = Ledger()
        self.answers: dict[str, int] = {}
        #: An answer no retry can change (401, 403, 422...): the run stops with it.
        self.fatal: int | None = None
        self._outstanding = 0
        self._settled = asyncio.Event()  # set when nothing is outstanding, or on a fatal answer
        self._queue: asyncio.Queue[tuple[str, bytes, list[str]]] = asyncio.Queue()

    async def run(self, stop: asyncio.Event) -> Ledger:
        async with aiohttp.ClientSession(headers=self.headers) as http:
            tasks = [asyncio.create_task(self._work(http, stop)) for _ in range(self.workers)]
            began, n = time.monotonic(), 0
            while not stop.is_set() and self.fatal is None:
                due = int((time.monotonic() - began) * self.rate)
                while n < due:
                    report_id, payload, alerts = make_report(f"gw-{n % 10:03d}", n // 10)
                    self._queue.put_nowait((report_id, payload, alerts))
                    self._outstanding += 1
                    n += 1
                await asyncio.sleep(0.05)
            self._settled.clear()
            if self._outstanding and self.fatal is None:
                await self._settled.wait()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        assert self.fatal is None, f"the gateway answered {self.fatal}: {self.answers}"
        return self.ledger

    async def _work(self, http: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        url = self.base_url + "/api/v1/reports"
        while True:
            report_id, payload, alerts = await self._queue.get()
            try:
                while True:
                    self.ledger.attempts += 1
                    status = await self._post(http, url, payload)
                    key = str(status) if status else "no answer"
                    self.answers[key] = self.answers.get(key, 0) + 1
                    if status == 202:
                        self.ledger.add(report_id, payload, alerts)
                        break
                    if status is not None and 400 <= status < 500 and status not in (408, 429):
                        self.fatal = status
                        break
                    self.ledger.failures += 1
                    await asyncio.sleep(0.2)
            finally:
                self._outstanding -= 1
                if not self._outstanding or self.fatal is not None:
                    self._settled.set()

    async def _post(self, http: aiohttp.ClientSession, url: str, payload: bytes) -> int | None:
        try:
            async with http.post(
                url,
                data=payload,
                headers={"Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=5),
            ) as resp:
                await resp.read()
                return resp.status
        except (aiohttp.ClientError, TimeoutError):
            return None


async def wait_http_ready(base_url: str, timeout: float = 30.0) -> float:
    """Wait until ``/healthz`` answers 200; seconds waited."""
    began = time.monotonic()
    async with aiohttp.ClientSession() as http:
        while True:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(
                    base_url + "/healthz", timeout=aiohttp.ClientTimeout(total=2)
                ) as resp:
                    if resp.status == 200:
                        return time.monotonic() - began
            assert time.monotonic() - began < timeout, f"{base_url} not ready in {timeout} s"
            await asyncio.sleep(0.1)


# -- watching the stream -------------------------------------------------------------------------


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float, what: str, every: float = 0.25
) -> float:
    """Poll ``check`` until true; seconds it took. Fails the test after ``timeout``."""
    began = time.monotonic()
    while True:
        with contextlib.suppress(TimeoutError, nats.errors.Error):
            if await check():
                return time.monotonic() - began
        assert time.monotonic() - began < timeout, f"{what}: not within {timeout:g} s"
        await asyncio.sleep(every)


async def last_seq(nc: NatsClient, stream: str = REPORTS_STREAM) -> int:
    info = await nc.jetstream().stream_info(stream)
    return int(info.state.last_seq)


async def acked_through(
    nc: NatsClient, durable: str, seq: int, stream: str = REPORTS_STREAM
) -> bool:
    """True once ``durable`` has acknowledged every message of ``stream`` up to ``seq``."""
    try:
        info = await nc.jetstream().consumer_info(stream, durable)
    except NotFoundError:
        return False
    floor = info.ack_floor.stream_seq if info.ack_floor else 0
    return (floor or 0) >= seq


async def drained(nc: NatsClient, durable: str, stream: str = REPORTS_STREAM) -> bool:
    """``durable`` has acknowledged everything in ``stream``."""
    return await acked_through(nc, durable, await last_seq(nc, stream), stream)


async def consumers_report(
    nc: NatsClient, durables: Sequence[str], stream: str = REPORTS_STREAM
) -> str:
    """What the stream and each durable look like, for a failure's message."""
    lines = []
    try:
        info = await nc.jetstream().stream_info(stream)
        lines.append(f"{stream}: last seq {info.state.last_seq}, cluster {info.cluster}")
    except (TimeoutError, nats.errors.Error) as exc:
        lines.append(f"{stream}: {exc!r}")
    for durable in durables:
        try:
            c = await nc.jetstream().consumer_info(stream, durable)
            lines.append(
                f"{durable}: pending {c.num_pending}, ack pending {c.num_ack_pending}, "
                f"redelivered {c.num_redelivered}, waiting {c.num_waiting}, "
                f"delivered {c.delivered}, ack floor {c.ack_floor}, cluster {c.cluster}"
            )
        except (TimeoutError, nats.errors.Error) as exc:
            lines.append(f"{durable}: {exc!r}")
    return "\n".join(lines)


async def catch_up_time(nc: NatsClient, durables: Sequence[str], timeout: float) -> float:
    """Seconds until every durable has acknowledged all that REPORTS held when called."""
    target = await last_seq(nc)
    began = time.monotonic()
    for durable in durables:
        await eventually(
            lambda d=durable: acked_through(nc, d, target),  # type: ignore[misc]
            timeout,
            f"{durable} catching up to seq {target}",
        )
    return time.monotonic() - began


# -- the census: what the archive and ALERTS hold ------------------------------------------------


@dataclasses.dataclass
class Census:
    """Per id: rows in the deduplicating view, and copies stored in the Parquet objects."""

    view: dict[str, int]
    stored: dict[str, int]

    def missing(self, expected: set[str] | Mapping[str, Any]) -> list[str]:
        return sorted(set(expected) - set(self.view))

    def unexpected(self, expected: set[str] | Mapping[str, Any]) -> list[str]:
        return sorted(set(self.view) - set(expected))

    def doubled_in_view(self) -> list[str]:
        return sorted(k for k, n in self.view.items() if n != 1)

    @property
    def extra_copies(self) -> int:
        """Stored copies beyond the first (redeliveries the view hides)."""
        return sum(n - 1 for n in self.stored.values() if n > 1)


def _census(stack: Any, kind: str, key: str) -> Census:
    con = catalog.connect(stack.endpoints)
    try:
        view = dict(con.execute(f"SELECT {key}, count(*) FROM {kind} GROUP BY 1").fetchall())
        bucket = stack.endpoints.s3_bucket
        files = f"s3://{bucket}/{kind}/*/*/*.parquet"
        if view:
            rows = con.execute(
                f"SELECT {key}, count(*) FROM read_parquet('{files}', hive_partitioning=false) "
                "GROUP BY 1"
            ).fetchall()
        else:
            rows = []
        return Census(view, dict(rows))
    finally:
        con.close()


async def archive_census(stack: Any) -> tuple[Census, Census]:
    """(reports by report_id, alerts by alert_id), as the views and the objects hold them."""
    reports = await asyncio.to_thread(_census, stack, "reports", "report_id")
    alerts = await asyncio.to_thread(_census, stack, "alerts", "alert_id")
    return reports, alerts


async def alerts_in_stream(nc: NatsClient) -> dict[str, int]:
    """Stored ALERTS messages per alert id (``Nats-Msg-Id``)."""
    js = nc.jetstream()
    total = int((await js.stream_info(ALERTS_STREAM)).state.messages)
    counts: dict[str, int] = {}
    if not total:
        return counts
    sub = await js.subscribe(ALERTS_PREFIX + ">", ordered_consumer=True)
    try:
        seen = 0
        while seen < total:
            msg = await sub.next_msg(timeout=10)
            seen += 1
            alert_id = json.loads(msg.data)["alert_id"]
            counts[alert_id] = counts.get(alert_id, 0) + 1
    finally:
        await sub.unsubscribe()
    return counts


@dataclasses.dataclass
class Verdict:
    """Losses and duplicates of one case, from the census."""

    published: int
    losses: int
    duplicates: int
    extra_copies: int
    alerts_expected: int
    alerts_lost: int
    alerts_duplicated: int

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


async def check_everything(stack: Any, nc: NatsClient, ledger: Ledger) -> Verdict:
    """Every acknowledged report once in the ``reports`` view and nothing else there; every
    expected alert once in ALERTS and in the ``alerts`` view. Asserts, then returns the
    measurements."""
    reports, alerts = await archive_census(stack)
    stream = await alerts_in_stream(nc)
    verdict = Verdict(
        published=len(ledger.reports),
        losses=len(reports.missing(ledger.reports)),
        duplicates=len(reports.doubled_in_view()),
        extra_copies=reports.extra_copies + alerts.extra_copies,
        alerts_expected=len(ledger.alerts),
        alerts_lost=len(set(ledger.alerts) - set(stream)),
        alerts_duplicated=sum(1 for n in stream.values() if n > 1),
    )
    assert reports.missing(ledger.reports) == [], "reports acknowledged but not archived"
    assert reports.unexpected(ledger.reports) == []
    assert reports.doubled_in_view() == []
    assert sorted(stream) == sorted(ledger.alerts)
    assert all(n == 1 for n in stream.values()), "an alert stored twice in ALERTS"
    assert alerts.missing(ledger.alerts) == []
    assert alerts.unexpected(ledger.alerts) == []
    assert alerts.doubled_in_view() == []
    return verdict


async def all_archived(stack: Any, ledger: Ledger) -> bool:
    reports, alerts = await archive_census(stack)
    return not reports.missing(ledger.reports) and not alerts.missing(ledger.alerts)


@contextlib.asynccontextmanager
async def monitor(stack: Any) -> AsyncIterator[NatsClient]:
    """A service connection for watching streams and consumers; survives server restarts."""
    nc = await connect(service_url(stack), "fault-monitor")
    try:
        yield nc
    finally:
        await nc.close()


async def settle_everything(
    stack: Any, nc: NatsClient, ledger: Ledger, durables: Sequence[str], timeout: float = 90.0
) -> float:
    """Wait until the durables drained REPORTS and the archive holds everything published;
    seconds it took."""
    began = time.monotonic()
    for durable in durables:
        try:
            await eventually(lambda d=durable: drained(nc, d), timeout, f"{durable} draining")  # type: ignore[misc]
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{await consumers_report(nc, durables)}") from None
    await eventually(lambda: all_archived(stack, ledger), timeout, "archive complete", every=1.0)
    return time.monotonic() - began
