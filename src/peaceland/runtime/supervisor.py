"""``peaceland run`` / ``demo``: the embedded servers plus every component, in the foreground.

Each component runs in its own process, exactly as in production (``peaceland gateway``,
``alerter``, ``archiver``…), so the two cores are both used and a crash stays contained.
The supervisor restarts a component that dies, shows a compact live summary, and on Ctrl-C
or SIGTERM stops the components (each finishes the batch in hand), then the servers it
started, leaving no process behind.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from rich.console import Console
from rich.live import Live
from rich.table import Table

from peaceland.access import Role, TokenStore
from peaceland.access import audit as audit_log
from peaceland.config import Settings, resolve_endpoints
from peaceland.contract import ALERTER_DURABLE, ALERTS_STREAM, ARCHIVER_DURABLE, REPORTS_STREAM
from peaceland.runtime.component import Backoff, Component
from peaceland.runtime.metrics import sample_value, scrape
from peaceland.servers import free_port, services
from peaceland.stream import (
    ConsumerSpec,
    JetStreamContext,
    connect,
    consumer_lag,
    stream_message_counts,
)

log = logging.getLogger(__name__)

STOP_GRACE_S = 20.0
#: A component that died is started again after 2 s, 4 s, 8 s … at most 60 s.
RESTART = Backoff()
DEMO_FLEET = ("--drones", "600", "--speed", "20", "--bad-rate", "0.02")

#: Long-running components started by ``run``, as ``peaceland`` sub-commands.
COMPONENTS: tuple[tuple[str, ...], ...] = (
    ("gateway",),
    ("alerter",),
    ("archiver",),
    ("compactor",),
)
#: Components without an HTTP server of their own, given a port for /metrics.
METRICS_COMPONENTS = frozenset({"alerter", "archiver", "compactor", "webhooks"})
WATCHED_CONSUMERS = (
    ConsumerSpec(REPORTS_STREAM, ALERTER_DURABLE),
    ConsumerSpec(REPORTS_STREAM, ARCHIVER_DURABLE),
    ConsumerSpec(ALERTS_STREAM, "incidents"),
)


@dataclasses.dataclass
class Child:
    args: tuple[str, ...]
    log_path: Path
    proc: asyncio.subprocess.Process | None = None
    restarts: int = 0
    metrics_port: int | None = None
    started_at: float = 0.0
    failures: int = 0
    #: When a dead child is due to start again (``None``: not dead, or not seen yet).
    restart_at: float | None = None

    @property
    def name(self) -> str:
        return self.args[0]

    async def start(self, env: dict[str, str]) -> None:
        if self.metrics_port is not None:
            env = {**env, "PEACELAND_METRICS_PORT": str(self.metrics_port)}
        self.started_at, self.restart_at = time.monotonic(), None
        with self.log_path.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "peaceland",
                *self.args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=env,
                # Own session: Ctrl-C reaches the supervisor only, which stops children in order.
                start_new_session=True,
            )

    async def stop(self, grace: float) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            log.warning("%s did not stop in %.0f s: killing it", self.name, grace)
            proc.kill()
            await proc.wait()


def child_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["PEACELAND_DATA_DIR"] = str(settings.data_dir)
    env.setdefault("PEACELAND_LOG_LEVEL", settings.log_level)
    return env


class Rates:
    """Rates from a counter sampled over time (pure: the caller passes the clock)."""

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self.samples: collections.deque[tuple[float, int]] = collections.deque()

    def add(self, now: float, count: int) -> None:
        self.samples.append((now, count))
        while self.samples and now - self.samples[0][0] > self.window_s:
            self.samples.popleft()

    def per_second(self, over_s: float = 5.0) -> float:
        """Mean rate over the last ``over_s`` seconds (0 before two samples)."""
        if len(self.samples) < 2:
            return 0.0
        now, last = self.samples[-1]
        old = next(((t, c) for t, c in self.samples if now - t <= over_s), self.samples[0])
        elapsed = now - old[0]
        return max(0, last - old[1]) / elapsed if elapsed > 0 else 0.0

    def per_minute(self) -> float:
        return self.per_second(self.window_s) * 60.0


#: Rows an archiver wrote, per kind (``peaceland.archive``'s counter, read from outside).
ARCHIVED: Final = "peaceland_archiver_archived_total"


def _archived_rows(port: int) -> int | None:
    """Report rows the archiver wrote, from its own /metrics."""
    samples = scrape(port)
    value = None if samples is None else sample_value(samples, ARCHIVED, {"kind": "reports"})
    return None if value is None else int(value)


class Summary:
    """The live table of ``run``: ingest rate, lags, alerts per minute, archive rows."""

    def __init__(self, children: Sequence[Child]) -> None:
        self.children = children
        self.started = time.monotonic()
        self.ingest = Rates()
        self.alerts = Rates()

    async def table(self, js: JetStreamContext) -> Table:
        now = time.monotonic()
        table = Table(title=f"peaceland · up {now - self.started:,.0f} s", expand=False)
        for column in ("what", "value"):
            table.add_column(column)
        try:
            counts = await stream_message_counts(js)
            reports, alerts = counts.get(REPORTS_STREAM), counts.get(ALERTS_STREAM)
            if reports is not None:
                self.ingest.add(now, reports)
            if alerts is not None:
                self.alerts.add(now, alerts)
            table.add_row("ingest", f"{self.ingest.per_second():,.0f} reports/s")
            table.add_row("alerts", f"{self.alerts.per_minute():,.0f} per minute")
            for name, count in counts.items():
                table.add_row(f"{name} messages", "missing" if count is None else f"{count:,}")
            for spec in WATCHED_CONSUMERS:
                lag = await consumer_lag(js, spec)
                table.add_row(f"{spec.durable} lag", "—" if lag is None else f"{lag.total:,}")
        except Exception as exc:  # the summary must never stop the supervisor
            table.add_row("nats", f"[red]unavailable: {exc}[/red]")
        for child in self.children:
            if child.name == "archiver" and child.metrics_port is not None:
                rows = await asyncio.to_thread(_archived_rows, child.metrics_port)
                table.add_row("archive rows", "—" if rows is None else f"{rows:,}")
        for child in self.children:
            code = None if child.proc is None else child.proc.returncode
            state = {None: "[green]running[/green]", 0: "finished"}.get(code, "[red]down[/red]")
            table.add_row(
                child.name, state + (f" ({child.restarts} restarts)" if child.restarts else "")
            )
        return table


class Supervisor:
    def __init__(self, settings: Settings, components: Sequence[Sequence[str]]) -> None:
        self.settings = settings
        logs = settings.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.children = [
            Child(
                tuple(args),
                logs / f"{args[0]}.log",
                metrics_port=free_port() if args[0] in METRICS_COMPONENTS else None,
            )
            for args in components
        ]
        self.env = child_env(settings)

    async def run(self, stop: asyncio.Event, console: Console) -> None:
        for child in self.children:
            await child.start(self.env)
        summary = Summary(self.children)
        endpoints = resolve_endpoints(self.settings)
        nc = await connect(endpoints.nats_url, "peaceland-run", tls_ca=endpoints.nats_tls_ca)
        try:
            with Live(console=console, refresh_per_second=1, transient=False) as live:
                while not stop.is_set():
                    await self._restart_dead(time.monotonic())
                    live.update(await summary.table(nc.jetstream()))
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1.0)
        finally:
            console.print("\nstopping components…")
            await asyncio.gather(*(c.stop(STOP_GRACE_S) for c in self.children))
            await nc.close()

    async def _restart_dead(self, now: float) -> None:
        """Start again each child that died once its backoff has passed (never waiting here:
        the summary and the other children go on meanwhile)."""
        for child in self.children:
            proc = child.proc
            # Exit status 0 is a component that finished its work (a simulation with --count).
            if proc is None or proc.returncode in (None, 0):
                continue
            if child.restart_at is None:
                child.failures = RESTART.failures(child.failures, now - child.started_at)
                delay = RESTART.delay(child.failures)
                child.restart_at = now + delay
                log.warning(
                    "%s exited with %s: restarting in %g s (log: %s)",
                    child.name,
                    proc.returncode,
                    delay,
                    child.log_path,
                )
            elif now >= child.restart_at:
                child.restarts += 1
                await child.start(self.env)


#: The demo's dashboard login: a dispatcher token, replaced at every demo start.
DEMO_LOGIN: Final = "demo-console"


async def _console_token(settings: Settings) -> str:
    endpoints = resolve_endpoints(settings)
    nc = await connect(endpoints.nats_url, "peaceland-demo", tls_ca=endpoints.nats_tls_ca)
    try:
        js = nc.jetstream()
        actor = audit_log.cli_actor()
        token, _ = await (await TokenStore.open(js)).replace(DEMO_LOGIN, Role.DISPATCHER, actor)
        await audit_log.record(js, audit_log.entry(actor, "operator", "token.create", DEMO_LOGIN))
        return token
    finally:
        await nc.close()


def run_foreground(settings: Settings, *, demo: bool = False, nodes: int | None = None) -> None:
    """Start servers (``nodes``: a cluster's size, see ``services.start_services``) and
    components, supervise until Ctrl-C / SIGTERM, stop everything."""
    console = Console()
    report = services.start_services(settings, nodes=nodes)
    console.print(
        f"servers: started {', '.join(report.started) or 'none'}"
        f"{'; already running ' + ', '.join(report.reused) if report.reused else ''}"
        f" ({report.elapsed_s:.1f} s)"
    )
    components: list[tuple[str, ...]] = list(COMPONENTS)
    if settings.webhook_urls:  # delivery to officers' systems, only when configured
        components.append(("webhooks",))
    if demo:
        components.append(("simulate", *DEMO_FLEET))
    scheme = "https" if settings.http_tls_cert else "http"
    url = f"{scheme}://{settings.http_host}:{settings.http_port}"
    if demo:
        token = asyncio.run(_console_token(settings))
        console.print(
            f"dashboard: [bold]{url}/#token={token}[/bold]  (logs you in as {DEMO_LOGIN})"
        )
    else:
        console.print(f"dashboard: [bold]{url}/[/bold]")
        console.print("log in with a token: peaceland token create --role dispatcher NAME")
    console.print(f"gateway: {url}/api/v1/reports · health {url}/healthz · {url}/metrics")
    console.print(f"logs: {settings.data_dir / 'logs'} · Ctrl-C stops everything")
    supervisor = Supervisor(settings, components)
    for child in supervisor.children:
        if child.metrics_port is not None:
            console.print(f"{child.name} metrics: http://127.0.0.1:{child.metrics_port}/metrics")

    # Time for every child to stop (each is killed after STOP_GRACE_S), then the servers.
    component = Component(
        "run", lambda stop: supervisor.run(stop, console), stop_grace_s=STOP_GRACE_S + 10
    )
    try:
        asyncio.run(component.serve())
    finally:
        if report.started:
            console.print(f"stopping servers: {', '.join(report.started)}")
            services.down(settings)
        else:
            console.print("servers were already running before `run`: left running")
