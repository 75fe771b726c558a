"""ALERTS → incidents: a durable consumer (``incidents``) that groups alerts per citizen.

Each alert is counted in its citizen's incident (``IncidentStore.record_alert``), then
acknowledged; counting is idempotent per ``alert_id``, so a redelivery (crash before the ack,
several builders sharing the durable) never counts twice. A batch is handled citizen by
citizen in parallel, and each citizen's alerts in stream order. A message that holds no alert
is dead-lettered (``peaceland.deadletter.incidents``) and acknowledged; a store failure naks
the message with a delay, and after ``max_deliver`` deliveries it is terminated and logged.

The builder runs inside every gateway process (``peaceland.web.app``): officers' state is
kept as long as any gateway runs, and more gateways share the work.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import defaultdict
from collections.abc import Sequence

from peaceland.contract import ALERTS_STREAM, InvalidReport, decode_alert
from peaceland.delivery.incident_store import IncidentStore
from peaceland.stream import (
    Action,
    ConsumerSpec,
    Msg,
    NatsClient,
    Publisher,
    PullConsumer,
    RetryPolicy,
    apply,
    deadletter_id,
    deadletter_message,
    parse_ack_subject,
)

log = logging.getLogger(__name__)

DURABLE = "incidents"
SOURCE = "incidents"


@dataclasses.dataclass(frozen=True, slots=True)
class BuilderOptions:
    durable: str = DURABLE
    filter_subject: str | None = None
    batch: int = 256
    max_wait_s: float = 1.0
    ack_wait_s: float = 30.0
    max_deliver: int = 20
    retry_delay_s: float = 1.0

    def consumer_spec(self) -> ConsumerSpec:
        return ConsumerSpec(
            ALERTS_STREAM,
            self.durable,
            filter_subject=self.filter_subject,
            ack_wait_s=self.ack_wait_s,
            max_deliver=self.max_deliver,
            max_ack_pending=4 * self.batch,
            description="alerts → incidents (KV bucket INCIDENTS)",
        )


@dataclasses.dataclass(slots=True)
class BuilderCounters:
    alerts: int = 0
    opened: int = 0
    attached: int = 0
    duplicates: int = 0
    invalid: int = 0
    failures: int = 0


class IncidentBuilder:
    def __init__(
        self, nc: NatsClient, store: IncidentStore, options: BuilderOptions | None = None
    ) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.store = store
        self.options = options or BuilderOptions()
        self.counters = BuilderCounters()
        self.publisher = Publisher(nc)
        self.retry = RetryPolicy(self.options.max_deliver, self.options.retry_delay_s)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; the batch in hand is finished first."""
        o = self.options
        consumer = PullConsumer(self.nc, o.consumer_spec()).messages(
            batch=o.batch, max_wait_s=o.max_wait_s
        )
        try:
            while not stop.is_set():
                msgs = await consumer.next_batch()
                if msgs:
                    await self.handle(msgs)
        finally:
            await consumer.close()

    async def handle(self, msgs: Sequence[Msg]) -> None:
        """Count a batch: citizens in parallel, each citizen's alerts in order."""
        groups: dict[str, list[Msg]] = defaultdict(list)
        invalid: list[tuple[Msg, str]] = []
        for msg in msgs:
            try:
                groups[decode_alert(msg.data).citizen].append(msg)
            except InvalidReport as exc:
                invalid.append((msg, exc.reason))
        await asyncio.gather(
            *(self._count(group) for group in groups.values()),
            *(self._dead_letter(msg, reason) for msg, reason in invalid),
        )

    async def _count(self, msgs: list[Msg]) -> None:
        for msg in msgs:
            alert = decode_alert(msg.data)
            try:
                recorded = await self.store.record_alert(alert, msg.metadata.sequence.stream)
            except Exception as exc:  # KV unavailable, conflicts: retry the message later
                await self._retry_later(msg, exc)
                continue
            self.counters.alerts += 1
            if recorded.outcome == "opened":
                self.counters.opened += 1
            elif recorded.outcome == "attached":
                self.counters.attached += 1
            else:
                self.counters.duplicates += 1
            await msg.ack()

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        self.counters.invalid += 1
        at = parse_ack_subject(msg.reply)
        seq = at.stream_seq
        out = deadletter_message(
            SOURCE,
            msg.data,
            f"ALERTS seq {seq} is not an alert: {reason}",
            msg_id=deadletter_id(SOURCE, ALERTS_STREAM, seq, at.timestamp_ns),
        )
        try:
            await self.publisher.publish(out)
        except Exception as exc:
            await self._retry_later(msg, exc)
            return
        log.warning("dead-lettered ALERTS seq %d: %s", seq, reason)
        await msg.ack()

    async def _retry_later(self, msg: Msg, exc: Exception) -> None:
        self.counters.failures += 1
        meta = msg.metadata
        decision = self.retry.on_failure(meta.num_delivered)
        if decision.action is Action.TERM:
            log.error(
                "giving up on ALERTS seq %d after %d deliveries: %r",
                meta.sequence.stream,
                meta.num_delivered,
                exc,
            )
        else:
            log.warning(
                "incident for ALERTS seq %d failed, retrying: %r", meta.sequence.stream, exc
            )
        await apply(msg, decision)
