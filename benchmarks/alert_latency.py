"""Alert latency under load: how long from a drone's publish to the alert on ``peaceland.alerts.>``.

    .venv/bin/python -m benchmarks.alert_latency [--duration 60] [--rate 5000]

Against one private embedded stack (JetStream on file storage, sync always), with

* ``peaceland alerter`` in its own process (the contract's durable, whole stream);
* ``peaceland simulate --drones 5000 --speed 60 --rate 5000 --bad-rate 0`` in its own process
  as background load: 5,000 reports/s, none alerting;
* probes from this process: every ``--interval`` (50 ms) a report with one agitated citizen,
  published to JetStream; the time from the publish call to its alert arriving on a core NATS
  subscription to ``peaceland.alerts.>`` is one sample;
* the same alerts as Server-Sent Events from ``peaceland gateway`` in its own process
  (``GET /api/v1/alerts/stream``, followed with ``benchmarks.sse_probe.SseProbe``): publish →
  SSE event (``--no-sse`` leaves the gateway out);
* the floor, in the same run: a bare NATS request / reply round-trip to an echo responder in
  its own process, sent between probes.

Results go to ``benchmarks/results/alert_latency.json``; the markdown table is printed for
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import nats
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js.errors import NotFoundError

from benchmarks.common import private_stack, write_results
from benchmarks.sse_probe import SseProbe
from peaceland.access import Role
from peaceland.contract import MSG_ID_HEADER, REPORTS_STREAM, decode_alert, report_subject
from peaceland.servers import free_port
from peaceland.testing import api_headers, machine

ECHO_SUBJECT = "peaceland.bench.echo"
PROBE_DRONE = "probe-0001"
REPO_ROOT = Path(__file__).resolve().parent.parent


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def cpu_pressure() -> float | None:
    """Share of the last 60 s in which some runnable task waited for a CPU (Linux PSI)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        first = Path("/proc/pressure/cpu").read_text().split("\n", 1)[0]
        return float(first.split("avg60=")[1].split()[0])
    return None


def percentiles(samples: list[float]) -> dict[str, float | int]:
    """Nearest-rank percentiles in milliseconds."""
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)

    def rank(p: float) -> float:
        return round(ordered[max(0, math.ceil(p * len(ordered)) - 1)] * 1000, 2)

    return {
        "n": len(ordered),
        "p50_ms": rank(0.50),
        "p90_ms": rank(0.90),
        "p99_ms": rank(0.99),
        "max_ms": round(ordered[-1] * 1000, 2),
        "mean_ms": round(sum(ordered) / len(ordered) * 1000, 2),
    }


def probe_report(n: int) -> tuple[str, bytes]:
    """A report with one agitated citizen; returns its report_id and payload."""
    ts = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    report_id = f"{PROBE_DRONE}:{ts}:{n}"
    body = {
        "drone_id": PROBE_DRONE,
        "ts": ts,
        "lat": 48.8566,
        "lon": 2.3522,
        "citizens": [
            {"name": "Calm Resident", "peacescore": 81},
            {"name": "Agitated Citizen", "peacescore": 3},
        ],
        "words": ["market", "shouting", "crowd"],
        "report_id": report_id,
    }
    return report_id, msgspec.json.encode(body)


class Probe:
    """Sends probes and pings on a fixed schedule and collects their latencies."""

    def __init__(self, nats_url: str, interval: float, sse_url: str | None = None) -> None:
        self.nats_url = nats_url
        self.interval = interval
        self.sse_url = sse_url
        self.published: dict[str, float] = {}  # alert_id → perf_counter at the report's publish
        self.sent: dict[str, tuple[float, float]] = {}  # report_id → (perf_counter, wall)
        self.alert_latencies: list[float] = []
        self.to_raised: list[float] = []
        self.stored: list[float] = []
        self.from_raised: list[float] = []
        self.rtts: list[float] = []
        self.ping_failures = 0
        self.publish_errors = 0
        self.lag_samples: list[int] = []

    async def run(self, duration: float, settle: float) -> dict[str, Any]:
        headers = await api_headers(self.nats_url, Role.VIEWER)
        async with aiohttp.ClientSession(headers=headers) as session:
            sse = SseProbe(session, self.sse_url) if self.sse_url else None
            if sse is not None:
                await sse.start()
            try:
                results = await self._run(duration, settle)
            finally:
                if sse is not None:
                    await sse.stop()
        if sse is not None:
            latencies = [
                sse.arrivals[a] - sent for a, sent in self.published.items() if a in sse.arrivals
            ]
            results["publish_to_sse"] = percentiles(latencies)
            results["sse_events_missing"] = len(self.published) - len(latencies)
        return results

    async def _run(self, duration: float, settle: float) -> dict[str, Any]:
        nc = await nats.connect(self.nats_url, name="bench-probe")
        try:
            js = nc.jetstream()
            await nc.subscribe("peaceland.alerts.>", cb=self._on_alert)
            await nc.flush()
            before = await _stream_messages(js)
            busy_before = cpu_times()
            began = time.perf_counter()
            lag_task = asyncio.create_task(self._watch_lag(js))
            acks: list[asyncio.Future[Any]] = []
            n = 0
            next_at = time.perf_counter()
            while time.perf_counter() - began < duration:
                report_id, payload = probe_report(n)
                await _sleep_until(next_at)
                started = time.perf_counter()
                self.sent[report_id] = (started, time.time())
                self.published[f"{report_id}/1"] = started
                ack = await js.publish_async(
                    report_subject(PROBE_DRONE), payload, headers={MSG_ID_HEADER: report_id}
                )
                ack.add_done_callback(functools.partial(self._on_stored, started))
                acks.append(ack)
                await _sleep_until(next_at + self.interval / 2)
                await self._ping(nc)
                n += 1
                next_at += self.interval
            elapsed = time.perf_counter() - began
            busy_after = cpu_times()
            after = await _stream_messages(js)
            await asyncio.sleep(settle)  # stragglers
            lag_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await lag_task
            results = await asyncio.gather(*acks, return_exceptions=True)
            self.publish_errors = sum(isinstance(r, Exception) for r in results)
            end_lag = await _alerter_lag(js)
        finally:
            await nc.drain()
        background = (after - before - n) / elapsed
        return {
            "publish_to_alert": percentiles(self.alert_latencies),
            "publish_to_raised_at": percentiles(self.to_raised),
            "publish_to_stored": percentiles(self.stored),
            "raised_at_to_alert": percentiles(self.from_raised),
            "nats_request_rtt": percentiles(self.rtts),
            "probes_sent": n,
            "alerts_missing": n - len(self.alert_latencies),
            "probe_publish_errors": self.publish_errors,
            "ping_failures": self.ping_failures,
            "background_reports_per_s": round(background),
            "probe_window_s": round(elapsed, 1),
            "alerter_lag_max": max(self.lag_samples, default=0),
            "alerter_lag_end": end_lag,
            "machine_cpu_busy_pct": round(
                100 * (busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1])
            ),
            "cpu_pressure_avg60_pct": cpu_pressure(),
        }

    def _on_stored(self, started: float, _: object) -> None:
        self.stored.append(time.perf_counter() - started)

    async def _on_alert(self, msg: Msg) -> None:
        received, wall = time.perf_counter(), time.time()
        alert_id = (msg.headers or {}).get(MSG_ID_HEADER, "")
        sent = self.sent.pop(alert_id.rsplit("/", 1)[0], None)
        if sent is not None:
            self.alert_latencies.append(received - sent[0])
            raised = datetime.fromisoformat(decode_alert(msg.data).raised_at).timestamp()
            self.to_raised.append(raised - sent[1])
            self.from_raised.append(wall - raised)

    async def _ping(self, nc: NatsClient) -> None:
        started = time.perf_counter()
        try:
            await nc.request(ECHO_SUBJECT, b"ping", timeout=1.0)
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
            self.ping_failures += 1
        else:
            self.rtts.append(time.perf_counter() - started)

    async def _watch_lag(self, js: Any) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.lag_samples.append(await _alerter_lag(js))


async def _sleep_until(when: float) -> None:
    delay = when - time.perf_counter()
    if delay > 0:
        await asyncio.sleep(delay)


async def _stream_messages(js: Any) -> int:
    info = await js.stream_info(REPORTS_STREAM)
    return int(info.state.messages)


async def _alerter_lag(js: Any) -> int:
    try:
        info = await js.consumer_info(REPORTS_STREAM, "alerter")
    except NotFoundError:
        return -1
    return int((info.num_pending or 0) + (info.num_ack_pending or 0))


async def _wait_for_alerter(nats_url: str, timeout: float = 30.0) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + timeout
        while await _alerter_lag(js) < 0:
            if time.monotonic() > deadline:
                raise RuntimeError("the alerter did not create its consumer in time")
            await asyncio.sleep(0.2)
    finally:
        await nc.drain()


async def _wait_for_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer in time")
            await asyncio.sleep(0.2)


async def echo_responder(nats_url: str) -> None:
    """The floor's other end: answers every request at once, until SIGTERM."""
    nc = await nats.connect(nats_url, name="bench-echo")

    async def answer(msg: Msg) -> None:
        await msg.respond(b"pong")

    await nc.subscribe(ECHO_SUBJECT, cb=answer)
    await nc.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await nc.drain()


@contextlib.contextmanager
def process(args: list[str], data_dir: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process of this machine's Python, on the private stack, its output in ``log``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEACELAND_")}
    env.update(PEACELAND_DATA_DIR=str(data_dir), PEACELAND_LOG_LEVEL="WARNING")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, *args], env=env, stdout=out, stderr=out, cwd=REPO_ROOT
        )
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def table(results: dict[str, Any]) -> str:
    rows = [
        ("publish → alert on `peaceland.alerts.>`", results["publish_to_alert"]),
        *(
            [("publish → SSE event (`GET /api/v1/alerts/stream`)", results["publish_to_sse"])]
            if "publish_to_sse" in results
            else []
        ),
        ("… of which publish → alerter's `raised_at`", results["publish_to_raised_at"]),
        ("… of which `raised_at` → alert received", results["raised_at_to_alert"]),
        ("report publish → JetStream ack (stored, fsynced)", results["publish_to_stored"]),
        ("bare NATS request round-trip (floor)", results["nats_request_rtt"]),
    ]
    lines = [
        f"Background load: {results['background_reports_per_s']:,} reports/s "
        f"(target {results['config']['rate']:,}), probes every "
        f"{results['config']['interval_s'] * 1000:g} ms for {results['probe_window_s']} s, "
        f"alerts missing: {results['alerts_missing']}, alerter lag max "
        f"{results['alerter_lag_max']:,}; machine CPU {results['machine_cpu_busy_pct']}% busy, "
        f"CPU pressure (avg60) {results['cpu_pressure_avg60_pct']}%.",
        "",
        "| path | samples | p50 ms | p90 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, stats in rows:
        lines.append(
            f"| {name} | {stats['n']:,} | {stats.get('p50_ms', '-')} | {stats.get('p90_ms', '-')}"
            f" | {stats.get('p99_ms', '-')} | {stats.get('max_ms', '-')} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of probes")
    parser.add_argument("--rate", type=int, default=5000, help="background reports/s")
    parser.add_argument("--drones", type=int, default=5000, help="simulated fleet size")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between probes")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load first")
    parser.add_argument("--no-sse", action="store_true", help="no gateway, no SSE figure")
    parser.add_argument(
        "--alerter-args", default="", help="extra `peaceland alerter` options, e.g. --fast-path"
    )
    parser.add_argument("--echo-responder", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_responder:
        from peaceland.config import load_settings, resolve_endpoints

        asyncio.run(echo_responder(resolve_endpoints(load_settings()).nats_url))
        return
    info = machine()
    # The simulated fleet reports once per simulated minute: speed 60 makes each of the
    # drones report once a wall second, and the rate caps the total.
    speed = max(1.0, 60.0 * args.rate / args.drones)
    load_s = args.warmup + args.duration + 10
    with private_stack() as (settings, endpoints):
        logs = settings.data_dir
        simulate = [
            *("-m", "peaceland", "simulate", "--drones", str(args.drones)),
            *("--rate", str(args.rate), "--speed", f"{speed:g}", "--bad-rate", "0"),
            *("--duration", f"{load_s:g}", "--seed", "1"),
        ]
        with (
            process(
                ["-m", "peaceland", "alerter", *args.alerter_args.split()],
                settings.data_dir,
                logs / "alerter.log",
            ),
            process(
                ["-m", "benchmarks.alert_latency", "--echo-responder"],
                settings.data_dir,
                logs / "echo.log",
            ),
            contextlib.ExitStack() as gateway,
        ):
            sse_url = None
            if not args.no_sse:
                port = free_port()
                gateway.enter_context(
                    process(
                        ["-m", "peaceland", "gateway", "--port", str(port)],
                        settings.data_dir,
                        logs / "gateway.log",
                    )
                )
                sse_url = f"http://127.0.0.1:{port}/api/v1/alerts/stream"
                asyncio.run(_wait_for_http(f"http://127.0.0.1:{port}/healthz"))
            asyncio.run(_wait_for_alerter(endpoints.nats_url))
            with process(simulate, settings.data_dir, logs / "simulate.log"):
                time.sleep(args.warmup)
                probe = Probe(endpoints.nats_url, args.interval, sse_url)
                results = asyncio.run(probe.run(args.duration, settle=2.0))
        for name in ("alerter.log", "simulate.log", "gateway.log"):
            if not (logs / name).exists():
                continue
            text = (logs / name).read_text(errors="replace").strip()
            if "Traceback" in text or "error" in text.lower():
                print(f"--- {name}:\n{text[-2000:]}", file=sys.stderr)
    results["config"] = {
        "rate": args.rate,
        "drones": args.drones,
        "speed": speed,
        "interval_s": args.interval,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "alerter_args": args.alerter_args,
    }
    path = write_results("alert_latency", info, results)
    print(table(results))
    print(f"\n(results in {path.relative_to(REPO_ROOT)})")


if __name__ == "__main__":
    main()
