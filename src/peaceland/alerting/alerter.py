"""REPORTS → rules → ALERTS: the alerter, a durable pull consumer that raises alerts.

Reports arrive continuously from the durable consumer (default ``alerter``, see
``peaceland.stream.PullConsumer.messages``), in batches of whatever has arrived. For each batch:

1. every report is judged (``judge``, pure): an invalid payload, or one whose ``drone_id``
   differs from its subject's token (a drone cannot speak for another), gets a dead-letter
   reason; a valid one gets the alerts of the rules (``peaceland.rules``). A report with
   nothing to publish is acknowledged at once;
2. the alerts (``peaceland.alerts.<drone_id>``, ``Nats-Msg-Id`` = alert id) and dead letters
   (``peaceland.deadletter.alerter``, ``Nats-Msg-Id`` from the report's stream position) are
   published at once, without waiting;
3. a task awaits their JetStream acknowledgements, then acknowledges each report whose output
   is stored. A report whose output failed is negatively acknowledged with a delay, so it comes
   back; at its ``max_deliver``-th delivery it is terminated, with an error in the log.

The loop never waits for step 3 (at most ``max_in_flight`` batches are settling), so one slow
acknowledgement never delays the next alert. Redelivery, restarts and several alerters bound to
the same durable can make a report be processed twice: its alerts carry the same ids, which
JetStream drops within its duplicate window (2 h), so each alert is stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

from peaceland.alerting.rules import Rule, apply_rules, default_rules
from peaceland.config import Settings
from peaceland.contract import (
    ALERTER_DURABLE,
    REPORTS_PREFIX,
    REPORTS_STREAM,
    Alert,
    InvalidReport,
    alert_subject,
    decode_report,
    encode_alert,
    format_raised_at,
)
from peaceland.runtime import (
    ALERT_LATENCY,
    component_connection,
    counters_collector,
    expose_metrics,
)
from peaceland.stream import (
    Action,
    ConsumerSpec,
    Msg,
    NatsClient,
    NatsError,
    OutMessage,
    Pending,
    PubAck,
    Publisher,
    PublishResult,
    PullConsumer,
    RetryPolicy,
    Subscription,
    apply,
    deadletter_id,
    deadletter_message,
    in_atomic_batch,
    parse_ack_subject,
)

log = logging.getLogger(__name__)

DURABLE = ALERTER_DURABLE
SOURCE = "alerter"


@dataclasses.dataclass(frozen=True, slots=True)
class AlerterOptions:
    """How the alerter consumes. The defaults are the contract's durable on the whole stream.

    ``batch`` is the size of each pull request and the most reports handled at once; reports
    are handed over as soon as they arrive, never held back to fill a batch, so a large batch
    costs no latency. ``max_wait_s`` bounds how long a stop request waits for an idle fetch.
    ``fast_path`` also raises alerts from reports seen as they are published (see
    ``Alerter._watch_live``).
    """

    durable: str = DURABLE
    filter_subject: str | None = None
    batch: int = 512
    max_wait_s: float = 1.0
    publish_timeout_s: float = 5.0
    retry_delay_s: float = 1.0
    ack_wait_s: float = 10.0
    max_deliver: int = 10
    max_in_flight: int = 8
    fast_path: bool = True

    def consumer_spec(self) -> ConsumerSpec:
        return ConsumerSpec(
            REPORTS_STREAM,
            self.durable,
            filter_subject=self.filter_subject,
            ack_wait_s=self.ack_wait_s,
            max_deliver=self.max_deliver,
            description="reports → alert rules → ALERTS",
        )


@dataclasses.dataclass(slots=True)
class AlerterCounters:
    """Totals since start, for the metrics endpoint. ``lag``: reports not yet delivered to any
    alerter of this durable, as of the last batch."""

    reports_seen: int = 0
    alerts_raised: int = 0
    alert_duplicates: int = 0
    dead_letters: int = 0
    publish_failures: int = 0
    reports_given_up: int = 0
    batches: int = 0
    lag: int = 0
    #: Alerts first stored by the fast path (counted in ``alerts_raised`` too).
    fast_alerts: int = 0

    def snapshot(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    """What one report message leads to: alerts (maybe none), or a dead letter's reason."""

    alerts: tuple[Alert, ...] = ()
    reason: str | None = None


_NOTHING = Verdict()


def judge(subject: str, payload: bytes, rules: Sequence[Rule], raised_at: str) -> Verdict:
    """Decode one report message and apply the rules. Pure; never raises for any input."""
    try:
        report = decode_report(payload)
    except InvalidReport as exc:
        return Verdict(reason=exc.reason)
    token = subject[len(REPORTS_PREFIX) :] if subject.startswith(REPORTS_PREFIX) else None
    if report.drone_id != token:
        return Verdict(
            reason=f"drone_id {report.drone_id!r} does not match the subject {subject!r}"
        )
    alerts = apply_rules(rules, report, raised_at)
    return Verdict(alerts=tuple(alerts)) if alerts else _NOTHING


def alert_message(alert: Alert) -> OutMessage:
    """The stream message of an alert; its id makes any republication a no-op."""
    return OutMessage(alert_subject(alert.drone_id), encode_alert(alert), msg_id=alert.alert_id)


def deadletter_for(msg: Msg, reason: str) -> OutMessage:
    """A dead letter for a report message, with an id from its stream position (unique and the
    same on every redelivery)."""
    at = parse_ack_subject(msg.reply)
    msg_id = deadletter_id(SOURCE, msg.metadata.stream, at.stream_seq, at.timestamp_ns)
    return deadletter_message(SOURCE, msg.data, reason, msg_id=msg_id)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Alerter:
    """Turns batches of report messages into alerts; ``run`` consumes until told to stop."""

    def __init__(
        self,
        nc: NatsClient,
        rules: Sequence[Rule],
        options: AlerterOptions | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.rules = tuple(rules)
        self.options = options or AlerterOptions()
        self.publisher = Publisher(nc, timeout=self.options.publish_timeout_s)
        self.retry = RetryPolicy(self.options.max_deliver, self.options.retry_delay_s)
        self.clock = clock
        self.counters = AlerterCounters()

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch and handle batches until ``stop`` is set; the batches in hand are finished.

        The loop never waits for JetStream acks: a batch's alerts are published at once, and
        a task awaits their acks then acknowledges the reports (at most ``max_in_flight``).
        """
        options = self.options
        consumer = PullConsumer(self.nc, options.consumer_spec()).messages(
            batch=options.batch, max_wait_s=options.max_wait_s
        )
        in_flight: set[asyncio.Task[None]] = set()
        live = await self._watch_live() if options.fast_path else None
        try:
            while not stop.is_set():
                msgs = await consumer.next_batch()
                settle = await self.start(msgs) if msgs else None
                if settle is not None:
                    in_flight.add(asyncio.create_task(settle))
                if len(in_flight) >= options.max_in_flight:
                    await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for task in [t for t in in_flight if t.done()]:
                    in_flight.discard(task)
                    task.result()  # a bug in settling must not pass silently
        finally:
            if live is not None:
                with contextlib.suppress(NatsError):
                    await live.unsubscribe()
            if in_flight:
                await asyncio.gather(*in_flight)
            await consumer.close()

    async def _watch_live(self) -> Subscription:
        """The fast path: see reports as they are published, before JetStream stores them.

        A core subscription (queue group per durable, so several alerters share it) raises the
        alerts of each report at once, without waiting for the store's fsync and the delivery
        to the durable consumer. Nothing is acknowledged here: the durable path still handles
        every stored report and re-publishes the same alert ids, which JetStream drops, so the
        fast path can only make alerts earlier, never lose or double one. Invalid reports are
        left to the durable path, which dead-letters them.
        """
        subject = self.options.filter_subject or REPORTS_PREFIX + ">"
        return await self.nc.subscribe(
            subject, queue=f"{self.options.durable}-live", cb=self._on_live_report
        )

    async def _on_live_report(self, msg: Msg) -> None:
        if in_atomic_batch(msg.headers):
            return  # part of an atomic batch that may yet be rolled back: wait for the store
        verdict = judge(msg.subject, msg.data, self.rules, format_raised_at(self.clock()))
        for alert in verdict.alerts:
            [sent] = await self.publisher.send([alert_message(alert)])
            if isinstance(sent, asyncio.Future):
                sent.add_done_callback(self._count_live)

    def _count_live(self, future: asyncio.Future[PubAck]) -> None:
        if future.cancelled() or future.exception() is not None:
            return  # the durable path publishes it again
        if future.result().duplicate:
            self.counters.alert_duplicates += 1
        else:
            self.counters.alerts_raised += 1
            self.counters.fast_alerts += 1

    async def start(self, msgs: Sequence[Msg]) -> Coroutine[Any, Any, None] | None:
        """Judge a batch, acknowledge the reports with nothing to publish, and publish the
        alerts and dead letters of the others; returns what settles those (or ``None``)."""
        counters = self.counters
        counters.batches += 1
        counters.reports_seen += len(msgs)
        counters.lag = msgs[-1].metadata.num_pending
        raised_at = format_raised_at(self.clock())
        rules = self.rules
        waiting: list[tuple[Msg, Verdict]] = []
        outgoing: list[OutMessage] = []
        for msg in msgs:
            verdict = judge(msg.subject, msg.data, rules, raised_at)
            if verdict.reason is not None:
                outgoing.append(deadletter_for(msg, verdict.reason))
            elif verdict.alerts:
                outgoing.extend(alert_message(a) for a in verdict.alerts)
            else:
                await msg.ack()  # nothing to make durable first
                continue
            waiting.append((msg, verdict))
        if not waiting:
            return None
        return self._settle(waiting, await self.publisher.send(outgoing))

    async def _settle(self, waiting: list[tuple[Msg, Verdict]], sent: list[Pending]) -> None:
        """Await the JetStream acks; ack each report whose output is stored, retry the others."""
        counters = self.counters
        results = await self.publisher.collect(sent)
        position = 0
        for msg, verdict in waiting:
            count = 1 if verdict.reason is not None else len(verdict.alerts)
            mine = results[position : position + count]
            position += count
            if any(isinstance(r, Exception) for r in mine):
                await self._retry_later(msg, mine)
                continue
            await msg.ack()
            if verdict.reason is None:
                stored = msg.metadata.timestamp
                ALERT_LATENCY.observe(max(0.0, (_utcnow() - stored).total_seconds()))
            if verdict.reason is not None:
                counters.dead_letters += 1
                log.info("dead-lettered report from %s: %s", msg.subject, verdict.reason)
            else:
                duplicates = sum(1 for r in mine if isinstance(r, PubAck) and r.duplicate)
                counters.alert_duplicates += duplicates
                counters.alerts_raised += count - duplicates

    async def _retry_later(self, msg: Msg, results: list[PublishResult]) -> None:
        self.counters.publish_failures += 1
        error = next(r for r in results if isinstance(r, Exception))
        delivered = msg.metadata.num_delivered
        decision = self.retry.on_failure(delivered)
        if decision.action is Action.TERM:
            self.counters.reports_given_up += 1
            log.error(
                "giving up on report %s (stream seq %d) after %d deliveries: %r",
                msg.subject,
                msg.metadata.sequence.stream,
                delivered,
                error,
            )
        else:
            log.warning(
                "publishing for %s failed (delivery %d), retry in %g s: %r",
                msg.subject,
                delivered,
                decision.delay_s,
                error,
            )
        await apply(msg, decision)


async def run_alerter(
    settings: Settings, stop: asyncio.Event, options: AlerterOptions | None = None
) -> AlerterCounters:
    """``peaceland alerter``: consume until ``stop`` is set; returns the final counters."""
    async with component_connection(settings, "alerter") as nc:
        alerter = Alerter(nc, default_rules(settings.alert_threshold), options)
        expose_metrics(
            settings.metrics_port, counters_collector("alerter", alerter.counters, gauges=("lag",))
        )
        spec = alerter.options.consumer_spec()
        log.info(
            "alerter %s on %s (threshold %d) started",
            spec.durable,
            spec.filter_subject or REPORTS_PREFIX + ">",
            settings.alert_threshold,
        )
        began = time.monotonic()
        await alerter.run(stop)
        c = alerter.counters
        log.info(
            "alerter stopped after %.0f s: %d reports, %d alerts, %d dead letters",
            time.monotonic() - began,
            c.reports_seen,
            c.alerts_raised,
            c.dead_letters,
        )
        return c
