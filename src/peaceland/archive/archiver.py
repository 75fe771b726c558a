"""``peaceland archiver``: REPORTS, ALERTS and DEADLETTER → Parquet objects on S3.

One archiver process runs one ``archive.pipeline.Pipeline`` per kind, each a durable pull
consumer (default ``archiver``) on its stream, writing through one S3 client. Run several
processes to share the work: JetStream hands each message to one of them. How a pipeline
batches, writes, retries and acknowledges: ``archive.pipeline``; why every report
ends up exactly once in the ``reports`` view: ``archive.layout``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from typing import Final

from peaceland.archive.kinds import ARCHIVE_KINDS, KINDS, Kind
from peaceland.archive.pipeline import Pipeline, PipelineOptions, PipelineStats
from peaceland.config import Settings, resolve_endpoints
from peaceland.contract import ARCHIVER_DURABLE, ConfigError
from peaceland.runtime import component_client, counters_collector, expose_metrics
from peaceland.storage import S3Store
from peaceland.stream import (
    ConsumerSpec,
    NatsError,
    OutMessage,
    PubAck,
    Publisher,
    PullConsumer,
)

log = logging.getLogger(__name__)

DURABLE: Final = ARCHIVER_DURABLE


class JetStreamDeadLetters:
    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher

    async def publish(self, messages: Sequence[OutMessage]) -> list[bool]:
        results = await self.publisher.publish_all(messages)
        return [isinstance(r, PubAck) for r in results]


def consumer_spec(
    kind: Kind,
    *,
    durable: str = DURABLE,
    filter_subject: str | None = None,
    options: PipelineOptions | None = None,
) -> ConsumerSpec:
    """The durable consumer of one pipeline. JetStream itself never gives up on a message
    (``max_deliver`` unlimited): the pipeline dead-letters poison, so nothing is dropped."""
    options = options or PipelineOptions()
    return ConsumerSpec(
        ARCHIVE_KINDS[kind].stream,
        durable,
        filter_subject=filter_subject,
        ack_wait_s=options.ack_wait_s,
        max_deliver=-1,
        # Two batches per archiver in hand, for a few archivers.
        max_ack_pending=4 * options.policy.max_rows + 2 * options.fetch_batch,
        description=f"archive {kind} as Parquet on S3",
    )


@dataclasses.dataclass(frozen=True, slots=True)
class ArchiverOptions:
    """What one archiver process archives. The defaults are the contract's: all three kinds,
    durable ``archiver``, whole streams, keys at the root of the bucket."""

    kinds: tuple[Kind, ...] = KINDS
    durable: str = DURABLE
    #: Only messages on this subject (with a single kind).
    filter_subject: str | None = None
    pipeline: PipelineOptions = dataclasses.field(default_factory=PipelineOptions)
    log_every_s: float = 30.0

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(KINDS)
        if unknown or not self.kinds:
            raise ConfigError(f"kinds must be among {', '.join(KINDS)}, got {self.kinds}")
        if self.filter_subject is not None and len(self.kinds) != 1:
            raise ConfigError("a filter subject needs exactly one kind")


async def run_archiver(
    settings: Settings, stop: asyncio.Event, options: ArchiverOptions | None = None
) -> list[PipelineStats]:
    """``peaceland archiver``: archive until ``stop`` is set; returns the final counters."""
    options = options or ArchiverOptions()
    endpoints = resolve_endpoints(settings)
    nc = await component_client(settings, "archiver")
    store = S3Store.connect(endpoints)
    sources: list[PullConsumer] = []
    try:
        deadletters = JetStreamDeadLetters(Publisher(nc))
        pipelines = []
        for kind in options.kinds:
            spec = consumer_spec(
                kind,
                durable=options.durable,
                filter_subject=options.filter_subject,
                options=options.pipeline,
            )
            sources.append(PullConsumer(nc, spec))
            pipelines.append(
                Pipeline(ARCHIVE_KINDS[kind], sources[-1], store, deadletters, options.pipeline)
            )
        collectors = [
            counters_collector("archiver", p.stats, labels={"kind": p.fmt.kind}) for p in pipelines
        ]
        expose_metrics(settings.metrics_port, *collectors)
        prefix = options.pipeline.key_prefix
        log.info(
            "archiver %s: %s into %s%s",
            options.durable,
            ", ".join(options.kinds),
            store.location,
            f" under {prefix}" if prefix else "",
        )
        async with asyncio.TaskGroup() as group:
            for pipeline in pipelines:
                group.create_task(pipeline.run(stop), name=f"archive {pipeline.fmt.kind}")
            reporter = group.create_task(_report(pipelines, sources, options.log_every_s))
            await stop.wait()
            reporter.cancel()
        for pipeline in pipelines:
            log.info("stopped: %s", pipeline.stats.describe())
        return [p.stats for p in pipelines]
    finally:
        for source in sources:
            await source.close()
        await nc.drain()
        store.close()


async def _report(pipelines: list[Pipeline], sources: list[PullConsumer], every_s: float) -> None:
    while True:
        await asyncio.sleep(every_s)
        for pipeline, source in zip(pipelines, sources, strict=True):
            try:
                lag = await source.lag()
            except (NatsError, TimeoutError):
                lag = None
            pending = "?" if lag is None else f"{lag.pending:,}"
            log.info("%s, %s pending", pipeline.stats.describe(), pending)
