"""``peaceland webhooks``: every alert POSTed to each configured URL, signed, at least once.

Each endpoint has its own durable consumer on ALERTS (``webhook-<12 hex of the URL>``,
starting with the alerts stored after it was first created), its own deliveries in flight and
its own retries, so a dead or slow endpoint never delays the others, nor SSE, nor the
alerter. Per alert:

* POST the alert JSON exactly as stored, with ``Peaceland-Alert-Id`` (receivers dedup on it:
  delivery is at least once), ``Peaceland-Delivery-Attempt`` and, when
  ``PEACELAND_WEBHOOK_SECRET`` is set, ``Peaceland-Signature: sha256=<HMAC-SHA256 of the body>``;
* 2xx → acknowledged. No answer, timeout, 408/425/429 or 5xx → negatively acknowledged with an
  exponential backoff (1 s, 2 s, 4 s … capped at 60 s, ``Retry-After`` honoured): JetStream
  redelivers it then, so retries survive restarts. At most ``max_pending`` alerts per endpoint
  wait for a retry; newer ones queue behind them in the stream;
* any other answer (4xx) → not retried: recorded as failed in ``DEADLETTER``
  (``peaceland.deadletter.webhook``, the alert as payload, the endpoint and its answer in
  ``Peaceland-Error``), then acknowledged. So is an alert still failing ``give_up_after_s``
  (24 h) after it was stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

import aiohttp

from peaceland import __version__
from peaceland.config import Settings
from peaceland.contract import (
    ALERTS_STREAM,
    MSG_ID_HEADER,
    ConfigError,
    InvalidReport,
    decode_alert,
)
from peaceland.delivery.webhook_policy import (
    ALERT_ID_HEADER,
    ATTEMPT_HEADER,
    SIGNATURE_HEADER,
    backoff,
    endpoint_id,
    redact,
    retry_after,
    sign,
    verdict,
)
from peaceland.runtime import (
    Backoff,
    component_connection,
    counters_collector,
    expose_metrics,
    keep_running,
)
from peaceland.stream import (
    ConsumerSpec,
    DeliverPolicy,
    Msg,
    NatsClient,
    PullConsumer,
    deadletter_message,
)

log = logging.getLogger(__name__)

SOURCE: Final = "webhook"
#: Restarts of an endpoint whose loop failed (its deliveries have their own backoff).
RESTART: Final = Backoff()
ANSWER_CHARS: Final = 300


@dataclasses.dataclass(frozen=True, slots=True)
class WebhookOptions:
    timeout_s: float = 10.0
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0
    give_up_after_s: float = 24 * 3600.0
    concurrency: int = 8  # deliveries in flight per endpoint
    max_pending: int = 100  # per endpoint: alerts handed out and not yet settled
    ack_wait_s: float = 60.0
    max_wait_s: float = 1.0
    durable_prefix: str = "webhook-"
    filter_subject: str | None = None


@dataclasses.dataclass(slots=True)
class EndpointCounters:
    delivered: int = 0
    retries: int = 0
    rejected: int = 0
    given_up: int = 0
    skipped: int = 0
    last_error: str | None = None


class Endpoint:
    """Delivery of every alert to one URL."""

    def __init__(
        self,
        nc: NatsClient,
        http: aiohttp.ClientSession,
        url: str,
        secret: str | None,
        options: WebhookOptions,
        *,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.http = http
        self.url = url
        self.name = redact(url)
        self.secret = secret
        self.options = options
        self.rng = rng
        self.counters = EndpointCounters()
        self._failing = False
        self._slots = asyncio.Semaphore(options.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    def consumer_spec(self) -> ConsumerSpec:
        o = self.options
        return ConsumerSpec(
            ALERTS_STREAM,
            o.durable_prefix + endpoint_id(self.url),
            filter_subject=o.filter_subject,
            ack_wait_s=o.ack_wait_s,
            max_deliver=-1,
            max_ack_pending=o.max_pending,
            description=f"webhook {self.name}",
            deliver_policy=DeliverPolicy.NEW,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, then wait for the deliveries in flight."""
        consumer = PullConsumer(self.nc, self.consumer_spec()).messages(
            batch=self.options.concurrency, max_wait_s=self.options.max_wait_s
        )
        try:
            while not stop.is_set():
                for msg in await consumer.next_batch():
                    await self._slots.acquire()
                    task = asyncio.create_task(self._deliver(msg))
                    self._tasks.add(task)
                    task.add_done_callback(self._done)
        finally:
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=self.options.timeout_s + 5)
            await consumer.close()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("webhook %s: delivery failed: %r", self.name, task.exception())

    async def _deliver(self, msg: Msg) -> None:
        meta = msg.metadata
        try:
            alert = decode_alert(msg.data)
        except InvalidReport as exc:  # the incident builder dead-letters it
            self.counters.skipped += 1
            log.warning(
                "webhook %s: ALERTS seq %d skipped: %s", self.name, meta.sequence.stream, exc
            )
            await msg.ack()
            return
        status, answer, wait = await self._post(msg.data, alert.alert_id, meta.num_delivered)
        outcome = verdict(status)
        if outcome == "delivered":
            self.counters.delivered += 1
            if self._failing:
                self._failing = False
                log.info("webhook %s: delivering again", self.name)
            await msg.ack()
        elif outcome == "reject":
            self.counters.rejected += 1
            await self._record_failure(msg, f"webhook {self.name} answered {answer}")
        elif self._age(meta.timestamp) > self.options.give_up_after_s:
            self.counters.given_up += 1
            reason = (
                f"webhook {self.name}: gave up after {meta.num_delivered} attempts over "
                f"{self.options.give_up_after_s / 3600:g} h; last: {answer}"
            )
            await self._record_failure(msg, reason)
        else:
            self.counters.retries += 1
            self.counters.last_error = answer
            o = self.options
            delay = wait or backoff(
                meta.num_delivered, o.backoff_base_s, o.backoff_max_s, self.rng()
            )
            if not self._failing:
                self._failing = True
                log.warning("webhook %s failing (%s): retrying with backoff", self.name, answer)
            log.debug(
                "webhook %s: %s, attempt %d, retry in %.1f s",
                self.name,
                answer,
                meta.num_delivered,
                delay,
            )
            await msg.nak(delay=delay)

    @staticmethod
    def _age(stored_at: datetime) -> float:
        return (datetime.now(UTC) - stored_at).total_seconds()

    async def _post(
        self, body: bytes, alert_id: str, attempt: int
    ) -> tuple[int | None, str, float | None]:
        """(status or None, the answer in words, Retry-After in seconds or None)."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"peaceland/{__version__}",
            ALERT_ID_HEADER: alert_id,
            ATTEMPT_HEADER: str(attempt),
        }
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = sign(self.secret, body)
        timeout = aiohttp.ClientTimeout(total=self.options.timeout_s)
        try:
            async with self.http.post(
                self.url, data=body, headers=headers, allow_redirects=False, timeout=timeout
            ) as resp:
                text = (await resp.content.read(ANSWER_CHARS)).decode("utf-8", "replace")
                answer = " ".join(f"{resp.status} {resp.reason or ''}: {text}".split())
                wait = retry_after(resp.headers.get("Retry-After"), self.options.backoff_max_s)
                return resp.status, answer, wait
        except TimeoutError:
            return None, f"no answer within {self.options.timeout_s:g} s", None
        except aiohttp.ClientError as exc:
            return None, f"no answer: {exc}", None

    async def _record_failure(self, msg: Msg, reason: str) -> None:
        """The alert and why it failed, in DEADLETTER; then it is settled."""
        self.counters.last_error = reason
        out = deadletter_message(SOURCE, msg.data, reason)
        headers = dict(out.headers or {})
        seq = msg.metadata.sequence.stream
        headers[MSG_ID_HEADER] = f"{SOURCE}:{endpoint_id(self.url)}:{seq}"
        try:
            await self.js.publish(out.subject, out.payload, headers=headers)
        except Exception as exc:  # recording failed: keep the alert, try again later
            log.warning("webhook %s: cannot record a failure (%r), retrying", self.name, exc)
            await msg.nak(delay=self.options.backoff_max_s)
            return
        log.warning("%s (ALERTS seq %d): recorded in DEADLETTER", reason, seq)
        await msg.ack()


async def run_webhooks(
    settings: Settings, stop: asyncio.Event, options: WebhookOptions | None = None
) -> list[Endpoint]:
    """``peaceland webhooks``: deliver to every ``PEACELAND_WEBHOOK_URLS`` until ``stop``.

    Each endpoint restarts on its own after a failure, so one never stops the others."""
    if not settings.webhook_urls:
        raise ConfigError("no webhook URL configured: set PEACELAND_WEBHOOK_URLS (comma-separated)")
    secret = settings.webhook_secret.reveal() if settings.webhook_secret else None
    if not secret:
        secret = None
        log.warning("PEACELAND_WEBHOOK_SECRET is not set: deliveries are not signed")
    options = options or WebhookOptions()
    async with component_connection(settings, "webhooks") as nc, aiohttp.ClientSession() as http:
        endpoints = [Endpoint(nc, http, url, secret, options) for url in settings.webhook_urls]
        for endpoint in endpoints:
            log.info("webhook %s: durable %s", endpoint.name, endpoint.consumer_spec().durable)
        counters = [
            counters_collector("webhook", e.counters, labels={"endpoint": e.name})
            for e in endpoints
        ]
        expose_metrics(settings.metrics_port, *counters)
        await asyncio.gather(
            *(keep_running(f"webhook {e.name}", e.run, stop, RESTART) for e in endpoints)
        )
    return endpoints
