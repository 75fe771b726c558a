"""``peaceland archive compact``: carry out compaction plans against the bucket.

    compact(store, kinds, options, now) -> list[KindResult]
    readable_keys(store, kind)                       what a reader should read, now

For each kind: read the manifests and list the objects (``plan.data_prefix``),
plan (``plan.plan_compaction``, pure), then

1. **retire**: delete the inputs of the manifests that are due, then the manifests;
2. **merge** each group (one partition): download its inputs to a temporary directory, merge
   them into one set of parts (``split.merge_parts``), upload every part, then write the
   manifest.

The order of these steps, and why readers never miss a report nor see one twice, is explained
in ``compaction.plan``. Groups run one at a time: local disk holds one partition's inputs,
split files and outputs (``split``), memory what ``merge`` says for one part.
Errors of the store are raised (``StoreError``); what was done before stays correct, and the
next run takes up the rest.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol

import msgspec
import pyarrow as pa

from peaceland.archive.compaction.plan import (
    CompactionPolicy,
    Group,
    Manifest,
    Plan,
    data_prefix,
    decode_manifest,
    encode_manifest,
    manifest_key,
    manifest_prefix,
    plan_compaction,
    readable,
)
from peaceland.archive.compaction.split import merge_parts
from peaceland.archive.kinds import ARCHIVE_KINDS, KINDS, Kind
from peaceland.contract import StoreError
from peaceland.storage import ManagedStore

log = logging.getLogger(__name__)

#: Inputs downloaded at once.
DOWNLOADS = 4


class Progress(Protocol):
    """Told about the work as it goes (the CLI draws a progress bar)."""

    def planned(self, plan: Plan) -> None: ...
    def advanced(self, nbytes: int) -> None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class CompactOptions:
    policy: CompactionPolicy = dataclasses.field(default_factory=CompactionPolicy)
    key_prefix: str = ""
    #: Only this UTC date.
    day: date | None = None
    #: Plan and report, change nothing.
    dry_run: bool = False
    #: Where inputs and outputs are spooled [the system's temporary directory].
    workdir: Path | None = None


@dataclasses.dataclass(slots=True)
class KindResult:
    """What one run did (or, dry, would do) with one kind."""

    kind: Kind
    dry_run: bool
    closed_partitions: int = 0
    open_partitions: int = 0
    groups: int = 0
    objects_in: int = 0
    objects_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    rows_in: int = 0
    rows_out: int = 0
    #: Objects merged earlier and deleted now (manifests due).
    deleted: int = 0
    #: Objects merged and kept until their manifests are due.
    awaiting_deletion: int = 0
    #: Groups whose objects could not be read as the kind's (logged, left alone).
    failed_groups: int = 0
    outputs: list[str] = dataclasses.field(default_factory=list)
    #: Closed partitions already one compacted set each: nothing to do.
    clean_partitions: int = 0

    @property
    def duplicates_dropped(self) -> int:
        return self.rows_in - self.rows_out


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def compact(
    store: ManagedStore,
    kinds: Sequence[Kind] = KINDS,
    options: CompactOptions | None = None,
    *,
    now: Callable[[], datetime] = _utcnow,
    progress: Progress | None = None,
) -> list[KindResult]:
    """One compaction run over ``kinds``."""
    options = options or CompactOptions()
    return [await _compact_kind(store, kind, options, now, progress) for kind in kinds]


async def load_manifests(
    store: ManagedStore, kind: Kind, key_prefix: str = "", day: date | None = None
) -> dict[str, Manifest]:
    """Every readable manifest of ``kind``, by key; unreadable ones are logged and skipped
    (their inputs may then be merged again: duplicates the views drop, never a loss)."""
    manifests: dict[str, Manifest] = {}
    for obj in await store.list(manifest_prefix(kind, key_prefix, day)):
        try:
            data = await store.get(obj.key)
        except StoreError:
            if await store.list(obj.key):
                raise
            continue  # retired since the listing: its inputs were deleted before it
        try:
            manifests[obj.key] = decode_manifest(data)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("%s: not a compaction manifest, ignored (%s)", obj.key, exc)
    return manifests


async def readable_keys(
    store: ManagedStore, kind: Kind, key_prefix: str = "", day: date | None = None
) -> list[str]:
    """The objects of ``kind`` a reader should read now (manifests first, then the listing:
    see ``compaction.plan``); read them within ``delete_after_s``."""
    manifests = await load_manifests(store, kind, key_prefix, day)
    listing = await store.list(data_prefix(kind, key_prefix, day))
    return readable([o.key for o in listing], manifests.values())


async def plan_kind(
    store: ManagedStore, kind: Kind, options: CompactOptions, now: datetime
) -> Plan:
    prefix, day = options.key_prefix, options.day
    manifests = await load_manifests(store, kind, prefix, day)
    listing = await store.list(data_prefix(kind, prefix, day))
    return plan_compaction(kind, listing, manifests, now, options.policy, prefix, day)


async def _compact_kind(
    store: ManagedStore,
    kind: Kind,
    options: CompactOptions,
    now: Callable[[], datetime],
    progress: Progress | None,
) -> KindResult:
    plan = await plan_kind(store, kind, options, now())
    result = KindResult(
        kind,
        options.dry_run,
        closed_partitions=plan.closed_partitions,
        open_partitions=plan.open_partitions,
        clean_partitions=plan.clean_partitions,
        groups=len(plan.groups),
        objects_in=sum(len(g.inputs) for g in plan.groups),
        bytes_in=plan.bytes,
        awaiting_deletion=plan.pending_inputs,
    )
    if progress is not None:
        progress.planned(plan)
    if options.dry_run:  # what would be deleted, and merged then kept until due
        result.deleted = sum(len(r.manifest.inputs) for r in plan.retirements if r.ready)
        result.awaiting_deletion += result.objects_in
        return result
    for retirement in plan.retirements:
        if retirement.ready:
            await store.delete(retirement.manifest.inputs)
            result.deleted += len(retirement.manifest.inputs)
        else:
            log.error(
                "%s: output %s is missing; its inputs are kept and will be merged again",
                retirement.key,
                retirement.manifest.output,
            )
        await store.delete([retirement.key])
    for group in plan.groups:
        if await _merge_group(store, group, options, now, progress, result):
            result.awaiting_deletion += len(group.inputs)
    return result


async def _merge_group(
    store: ManagedStore,
    group: Group,
    options: CompactOptions,
    now: Callable[[], datetime],
    progress: Progress | None,
    result: KindResult,
) -> bool:
    """Merge one group; False when its objects cannot be merged (logged, left as they are)."""
    kind = ARCHIVE_KINDS[group.partition.kind]
    prefix = options.key_prefix
    with tempfile.TemporaryDirectory(prefix="peaceland-compact-", dir=options.workdir) as tmp:
        folder = Path(tmp)
        paths = [folder / f"in-{i:06d}.parquet" for i in range(len(group.inputs))]
        limit = asyncio.Semaphore(DOWNLOADS)

        async def fetch(key: str, path: Path, size: int) -> None:
            async with limit:
                await store.download(key, path)
            if progress is not None:
                progress.advanced(size)

        async with asyncio.TaskGroup() as tasks:
            for obj, path in zip(group.inputs, paths, strict=True):
                tasks.create_task(fetch(obj.key, path, obj.size))
        try:
            parts = await asyncio.to_thread(merge_parts, kind, paths, folder, group.parts)
        except (ValueError, pa.ArrowException) as exc:  # not an archive object after all
            log.error(
                "%s: %d objects not merged: %s", group.partition.path(prefix), len(paths), exc
            )
            result.failed_groups += 1
            return False
        keys = [
            group.output_key(
                p.merged.first_seq, p.merged.last_seq, p.merged.rows_out, prefix, (i, len(parts))
            )
            for i, p in enumerate(parts, start=1)
        ]
        for key, part in zip(keys, parts, strict=True):
            await store.upload(key, part.path)
        size = sum(p.path.stat().st_size for p in parts)
    rows_in = sum(p.merged.rows_in for p in parts)
    rows_out = sum(p.merged.rows_out for p in parts)
    manifest = Manifest(
        kind=kind.name,
        output=keys[0],
        inputs=group.keys,
        compacted_at=now(),
        rows_in=rows_in,
        rows_out=rows_out,
        outputs=keys,
    )
    await store.put(manifest_key(keys[0], prefix), encode_manifest(manifest))
    result.objects_out += len(keys)
    result.bytes_out += size
    result.rows_in += rows_in
    result.rows_out += rows_out
    result.outputs.extend(keys)
    log.info(
        "%s: %d objects, %d rows → %d objects %s… (%d duplicates dropped)",
        group.partition.path(prefix),
        len(group.inputs),
        rows_in,
        len(keys),
        keys[0].rsplit("/", 1)[1],
        rows_in - rows_out,
    )
    return True
