"""``peaceland compactor``: compaction as a component, run by ``peaceland run``.

Every ``interval_s`` it compacts each kind's closed partitions (hours that ended
``PEACELAND_COMPACT_GRACE`` ago: the lateness window) and retires what earlier passes merged.
Late reports for a compacted hour land as new small objects and are merged by a later pass.

Several compactors may run (one per node of a cluster): they share one lease (``compactor`` in
the ``LEASES`` bucket, one per key prefix), so one compacts while the others wait to take over.
A holder that loses its lease (cut off from NATS, or too slow to renew) has its pass cancelled
before another may start; a pass cut short leaves the archive correct (``compaction.plan``)
and the next holder takes up the rest.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from peaceland.archive.compaction.compactor import CompactOptions, KindResult, compact
from peaceland.archive.compaction.plan import CompactionPolicy
from peaceland.archive.kinds import KINDS, Kind
from peaceland.config import Settings, resolve_s3_endpoints
from peaceland.contract import StoreError
from peaceland.runtime import (
    component_connection,
    counters_collector,
    expose_metrics,
    wait_or_stop,
)
from peaceland.storage import ManagedStore, S3Store
from peaceland.stream import LEASES_BUCKET, Lease, LeaseLost, holder_name, open_bucket

log = logging.getLogger(__name__)

LEASE_KEY = "compactor"


def lease_key(key_prefix: str) -> str:
    """One lease per archive: ``compactor``, or ``compactor.<prefix>`` for one under a prefix."""
    name = re.sub(r"[^-_=a-zA-Z0-9]", "_", key_prefix.strip("/"))
    return f"{LEASE_KEY}.{name}" if name else LEASE_KEY


@dataclasses.dataclass(frozen=True, slots=True)
class CompactorOptions:
    kinds: Sequence[Kind] = KINDS
    key_prefix: str = ""
    #: Seconds between two passes; ``None``: the setting ``PEACELAND_COMPACT_INTERVAL``.
    interval_s: float | None = None


@dataclasses.dataclass(slots=True)
class CompactorCounters:
    """Totals since start, for the metrics endpoint."""

    passes: int = 0
    passes_failed: int = 0
    passes_cut_short: int = 0
    objects_merged: int = 0
    objects_written: int = 0
    objects_deleted: int = 0
    duplicates_dropped: int = 0

    def add(self, results: Sequence[KindResult]) -> None:
        self.passes += 1
        for r in results:
            self.objects_merged += r.objects_in
            self.objects_written += r.objects_out
            self.objects_deleted += r.deleted
            self.duplicates_dropped += r.duplicates_dropped

    def snapshot(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def policy_of(settings: Settings) -> CompactionPolicy:
    return CompactionPolicy(
        settings.compact_target_bytes, settings.compact_grace_s, settings.compact_delete_after_s
    )


async def compaction_pass(
    store: ManagedStore, settings: Settings, options: CompactorOptions
) -> list[KindResult]:
    """One pass over every kind, logged when it changed something."""
    began = time.monotonic()
    run = CompactOptions(policy=policy_of(settings), key_prefix=options.key_prefix)
    results = await compact(store, options.kinds, run, now=lambda: datetime.now(UTC))
    merged = sum(r.objects_in for r in results)
    deleted = sum(r.deleted for r in results)
    if merged or deleted:
        log.info(
            "compacted %d objects into %d, deleted %d merged earlier (%.1f s)",
            merged,
            sum(r.objects_out for r in results),
            deleted,
            time.monotonic() - began,
        )
    return results


async def run_compactor(
    settings: Settings,
    stop: asyncio.Event,
    options: CompactorOptions | None = None,
    counters: CompactorCounters | None = None,
) -> CompactorCounters:
    """Compact every interval while holding the lease, until ``stop`` is set; the totals
    (kept in ``counters`` as it goes, when given)."""
    options = options or CompactorOptions()
    interval = options.interval_s or settings.compact_interval_s
    counters = counters if counters is not None else CompactorCounters()
    store = S3Store.connect(resolve_s3_endpoints(settings))
    try:
        async with component_connection(settings, "compactor") as nc:
            kv = await open_bucket(nc.jetstream(), LEASES_BUCKET)
            lease = Lease(kv, lease_key(options.key_prefix), holder_name("compactor"))
            expose_metrics(settings.metrics_port, counters_collector("compactor", counters))
            log.info(
                "compactor %s: every %g s, hours closed for %g s, into %s",
                lease.holder,
                interval,
                settings.compact_grace_s,
                store.location,
            )
            try:
                while not stop.is_set():
                    if await lease.acquire():
                        await _one_pass(lease, store, settings, options, counters)
                    await wait_or_stop(stop, interval)
            finally:
                await lease.release()
    finally:
        store.close()
    return counters


async def _one_pass(
    lease: Lease,
    store: ManagedStore,
    settings: Settings,
    options: CompactorOptions,
    counters: CompactorCounters,
) -> None:
    try:
        counters.add(await lease.hold(compaction_pass(store, settings, options)))
    except LeaseLost as exc:
        counters.passes_cut_short += 1
        log.warning("%s: pass cut short, another compactor takes over", exc)
    except StoreError as exc:  # the next pass takes up the rest
        counters.passes_failed += 1
        log.warning("compaction pass failed: %s", exc)
