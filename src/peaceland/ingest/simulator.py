"""``peaceland simulate``: publish a simulated fleet's reports to JetStream, paced and counted.

The reports come from ``peaceland.fleet`` (pure); this module is the edge that publishes them
to ``peaceland.reports.<drone_id>`` with ``Nats-Msg-Id`` = report_id, a bounded number of
acknowledgements in flight, and a summary at the end.

Pacing: each drone reports once per *simulated* minute, and simulated time runs ``speed``
times faster than wall time; ``rate`` caps the overall reports/s on top of that, and
``rate=0`` drops all pacing (time fully compressed, as fast as the server acknowledges).

Counting: every report handed to the client is ``sent``; it ends either ``acknowledged`` by
JetStream (``duplicates`` among them: dropped by the dedup window, e.g. a rerun of the same
seed and start) or an ``error`` (publish failed, error reply, no ack within ``ack_timeout``).
After the final drain, ``sent == acknowledged + errors``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import random
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from peaceland.contract import DEFAULT_INBOX_PREFIX, ConfigError
from peaceland.ingest.fleet import (
    DEFAULT_BAD_RATE,
    DEFAULT_POPULATION,
    DEFAULT_PREFIX,
    FRANCE,
    Area,
    Fleet,
    FleetConfig,
)
from peaceland.stream import BatchWindow, NatsClient, OutMessage, Publisher, connect

DEFAULT_MAX_IN_FLIGHT = 4096
DEFAULT_ACK_TIMEOUT_S = 10.0
TICK_S = 0.25
# Sleep only when the next report is due later than this: sub-millisecond sleeps cost more
# than they pace, and the schedule is computed from the count, so bursts average out.
_MIN_SLEEP_S = 0.002
# A paced run gathers reports for this long before sending them as one atomic batch: each
# batch costs the server a temporary store, and hundreds of tiny batches a second cost more
# server CPU than they save in fsyncs (profiled: 78 % of nats-server in batch handling).
FLUSH_INTERVAL_S = 0.02
_YIELD_EVERY = 64


@dataclasses.dataclass(frozen=True, slots=True)
class SimulationOptions:
    """What to simulate and how fast. ``count`` and ``duration`` are mutually exclusive;
    with neither, the simulation runs until ``stop`` is set (Ctrl-C on the command line)."""

    drones: int
    rate: float | None = None
    count: int | None = None
    duration: float | None = None
    bad_rate: float = DEFAULT_BAD_RATE
    seed: int | None = None
    speed: float = 1.0
    area: Area = FRANCE
    population: int = DEFAULT_POPULATION
    prefix: str = DEFAULT_PREFIX
    start: datetime | None = None
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    ack_timeout: float = DEFAULT_ACK_TIMEOUT_S

    def __post_init__(self) -> None:
        if self.count is not None and self.duration is not None:
            raise ConfigError("--count and --duration are mutually exclusive")
        if self.count is not None and self.count < 0:
            raise ConfigError(f"count: need >= 0, got {self.count}")
        if self.duration is not None and not self.duration > 0:
            raise ConfigError(f"duration: need > 0 seconds, got {self.duration}")
        if self.rate is not None and not self.rate >= 0:
            raise ConfigError(f"rate: need >= 0 reports/s, got {self.rate}")
        if not self.speed > 0:
            raise ConfigError(f"speed: need > 0, got {self.speed}")
        if self.max_in_flight < 1 or not self.ack_timeout > 0:
            raise ConfigError("max_in_flight must be >= 1 and ack_timeout > 0")
        self.fleet_config(0)  # validates the fleet's own fields

    def fleet_config(self, seed: int) -> FleetConfig:
        return FleetConfig(
            drones=self.drones,
            seed=seed,
            bad_rate=self.bad_rate,
            area=self.area,
            population=self.population,
            prefix=self.prefix,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class SimulationSummary:
    """The counts so far (progress) or in the end (result). ``stopped`` is ``None`` while
    running, then ``"count reached"``, ``"duration reached"``, ``"interrupted"`` or
    ``"connection closed"``."""

    drones: int
    seed: int
    sent: int
    acknowledged: int
    duplicates: int
    errors: int
    alerting: int
    duration_s: float
    stopped: str | None = None
    first_error: str | None = None

    @property
    def rate(self) -> float:
        """Acknowledged reports per wall second."""
        return self.acknowledged / self.duration_s if self.duration_s > 0 else 0.0

    def describe(self) -> str:
        lines = [
            f"sent          {self.sent:,} reports from {self.drones:,} drones "
            f"({self.alerting:,} alerting citizens), seed {self.seed}",
            f"acknowledged  {self.acknowledged:,} ({self.duplicates:,} duplicates dropped)",
            f"errors        {self.errors:,}"
            + (f" (first: {self.first_error})" if self.first_error else ""),
            f"duration      {self.duration_s:.2f} s, {self.rate:,.0f} reports/s"
            + (f", {self.stopped}" if self.stopped else ""),
        ]
        return "\n".join(lines)


ProgressCallback = Callable[[SimulationSummary], None]


async def connect_fleet(nats_url: str, tls_ca: Path | None = None) -> NatsClient:
    # Drone credentials: replies under the drones' inbox prefix, the only one they may use.
    connecting = connect(
        nats_url, "peaceland-simulate", tls_ca=tls_ca, inbox_prefix=DEFAULT_INBOX_PREFIX
    )
    return await asyncio.wait_for(connecting, 10.0)


async def run_simulation(
    nats_url: str,
    options: SimulationOptions,
    progress: ProgressCallback | None = None,
    *,
    stop: asyncio.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
    tls_ca: Path | None = None,
) -> SimulationSummary:
    """Publish the fleet's reports until count, duration or ``stop``; wait for in-flight
    acknowledgements (at most ``ack_timeout``), then return the summary.

    ``progress`` is called about every ``TICK_S`` seconds with the counts so far.
    """
    seed = options.seed if options.seed is not None else random.SystemRandom().getrandbits(32)
    start = options.start or datetime.now(UTC).replace(microsecond=0)
    fleet = Fleet(options.fleet_config(seed), start)
    # The streams are created by `peaceland up` and by every service; drone credentials may
    # not create them.
    nc = await connect_fleet(nats_url, tls_ca)
    try:
        publisher = Publisher(nc, timeout=options.ack_timeout)
        window = publisher.window(max_in_flight=options.max_in_flight)
        run = _Run(options, seed, window, clock)
        ticker = asyncio.create_task(run.tick(progress))
        try:
            stopped = await run.publish(fleet, stop or asyncio.Event())
            await window.drain()
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
        return run.snapshot(stopped)
    finally:
        await nc.close()


class _Run:
    """One simulation run: the schedule, and the counts so far."""

    def __init__(
        self,
        options: SimulationOptions,
        seed: int,
        window: BatchWindow,
        clock: Callable[[], float],
    ) -> None:
        self.options = options
        self.seed = seed
        self.window = window
        self.clock = clock
        self.sent = self.alerting = 0
        self.t0 = clock()
        self.last_flush = self.t0

    def snapshot(self, stopped: str | None = None) -> SimulationSummary:
        window = self.window
        return SimulationSummary(
            drones=self.options.drones,
            seed=self.seed,
            sent=self.sent,
            acknowledged=window.acked,
            duplicates=window.duplicates,
            errors=window.errors,
            alerting=self.alerting,
            duration_s=self.clock() - self.t0,
            stopped=stopped,
            first_error=window.first_error,
        )

    async def tick(self, progress: ProgressCallback | None) -> None:
        """Forever: report progress."""
        while True:
            await asyncio.sleep(TICK_S)
            if progress is not None:
                progress(self.snapshot())

    async def publish(self, fleet: Fleet, stop: asyncio.Event) -> str:
        """Publish on schedule until a limit or ``stop``; returns why it stopped."""
        options, clock, window = self.options, self.clock, self.window
        limit = options.count if options.count is not None else -1
        deadline = self.t0 + options.duration if options.duration is not None else math.inf
        interval = 1.0 / options.rate if options.rate else 0.0
        scale = 0.0 if options.rate == 0 else 1.0 / options.speed
        report = next(fleet)
        while True:
            if stop.is_set():
                return "interrupted"
            if self.sent == limit:
                return "count reached"
            now = clock()
            if now >= deadline:
                return "duration reached"
            due = self.t0 + max(report.sim_offset_s * scale, self.sent * interval)
            if due >= deadline:  # due after the run's end: wait it out, never send it early
                await window.flush()
                await asyncio.sleep(min(deadline - now, TICK_S))
                continue
            if due > now + _MIN_SLEEP_S:
                if now - self.last_flush >= FLUSH_INTERVAL_S:
                    await window.flush()
                    self.last_flush = now
                pause = min(due - now, deadline - now, TICK_S, FLUSH_INTERVAL_S)
                await asyncio.sleep(pause)
                continue
            if self.window.publisher.nc.is_closed:
                return "connection closed"
            self.sent += 1
            self.alerting += report.alerting
            await window.add(OutMessage(report.subject, report.payload, report.report_id))
            report = next(fleet)
            if self.sent % _YIELD_EVERY == 0:
                await asyncio.sleep(0)  # let the client flush and read acks


def run_in_terminal(
    nats_url: str, options: SimulationOptions, *, tls_ca: Path | None = None
) -> SimulationSummary:
    """Run with a live progress bar on stderr; Ctrl-C (or SIGTERM) stops cleanly, a second
    Ctrl-C aborts without waiting for acknowledgements."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    total = options.count if options.count is not None else options.duration
    bar = Progress(
        SpinnerColumn(),
        TextColumn("simulating {task.fields[drones]:,} drones"),
        BarColumn(),
        TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(),
        console=console,
        refresh_per_second=4,
        disable=not console.is_terminal,
    )
    task = bar.add_task("simulate", total=total, drones=options.drones, stats="")

    def show(s: SimulationSummary) -> None:
        if not bar.live.is_started:  # started late, so a connection error stays one line
            bar.start()
        done = s.sent if options.count is not None else s.duration_s
        stats = f"sent {s.sent:,} · acked {s.acknowledged:,} · {s.rate:,.0f}/s"
        if s.errors:
            stats += f" · [red]{s.errors:,} errors[/red]"
        bar.update(task, completed=done, stats=stats)

    async def main() -> SimulationSummary:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def interrupt() -> None:
            stop.set()
            bar.console.print("stopping: waiting for in-flight acknowledgements (Ctrl-C aborts)")
            loop.remove_signal_handler(signal.SIGINT)  # back to KeyboardInterrupt

        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGINT, interrupt)
            loop.add_signal_handler(signal.SIGTERM, stop.set)
        return await run_simulation(nats_url, options, show, stop=stop, tls_ca=tls_ca)

    try:
        summary = asyncio.run(main())
        show(summary)
    finally:
        bar.stop()
    return summary
