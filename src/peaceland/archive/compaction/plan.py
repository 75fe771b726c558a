"""Compaction of the archive: which partitions to rewrite, and when to delete what. Pure.

    CompactionPolicy(target_bytes, grace_s, delete_after_s)    the settings
    plan_compaction(kind, listing, manifests, now, policy)     → Plan: partitions to rewrite,
                                                                 manifests due for deletion
    Manifest, manifest_key, group digest                      the records the protocol keeps
    readable(keys, manifests)                                 what a careful reader reads

The archiver writes many small objects (one per flush and hour); compaction rewrites each
*closed* partition (an hour, or a day for dead letters, that ended more than ``grace_s`` ago)
as **one set** of objects of about ``target_bytes`` each, holding each row once: duplicates
(the same ``ArchiveKind.dedup_keys``: reports the same ``report_id``, alerts the same
``alert_id``, dead letters the same stream message) are dropped, keeping the first received
copy as the views do. A partition larger than ``target_bytes`` is split by ranges of its dedup
key (``split``), so the objects of a set never share a row. A partition that holds exactly one
complete set (``layout.is_one_compacted_set``) is *clean*: the views read it without their
dedup window. ``compactor`` carries a plan out against the bucket.

The protocol. Readers list a partition and then read what they listed, at some later instant;
S3 offers no snapshot, and deleting an object always races with a reader that just listed it.
So compaction never removes a report from any listing, deletes only objects whose reports are
elsewhere, and deletes them long after they were replaced:

1. **Merge, write the outputs first.** Every object of the partition (archivers' and earlier
   sets) is merged into the set ``compact-<first>-<last>-n<rows>-<digest>[-p<i>of<n>].parquet``
   in the same partition, where ``digest`` hashes the inputs' keys: the same inputs always
   give the same keys and the same rows, so a retry (or a second compactor racing the first on
   the same listing) overwrites them with themselves. S3 makes an object visible whole, at
   once. From then on a listing holds the inputs *and* the outputs, each report twice, and the
   partition is not clean: the views deduplicate it.
2. **Then record the retirement.** A manifest
   ``_compaction/<kind>/date=…/[hour=…/]<first output's name>.json`` lists the inputs, the
   outputs and the time. It lives outside ``reports/``, ``alerts/``, ``deadletter/``, so no
   reader's glob sees it. A crash before the manifest leaves outputs without one (maybe only
   some parts): the partition is not clean, so the next run merges everything in it again
   (duplicates dropped): nothing is lost, only work repeated.
3. **Delete the inputs ``delete_after_s`` later (15 min by default), on a later run**, and only
   when every output is listed; then the manifest. The partition is clean from then on.
4. **A partition with retired inputs or fresh outputs is left alone** until their manifest is
   done: never merged twice at once, so compaction converges, and a run right after another
   changes nothing. A clean partition is never touched.

What readers get:

* **A reader that reads manifests first** (``readable``; ``compactor.readable_keys``):
  it lists ``_compaction/``, then the data, and skips the inputs of the manifests it saw (their
  outputs, written before the manifest, are in its listing). Any such reader that finishes
  within ``delete_after_s`` of its start never misses an object, never misses a report, and
  reads each merged report once.
* **A reader that lists** (the views, DuckDB over ``reports/*/*/*.parquet``): every listing,
  at any instant, holds every report; a partition listed as one complete set holds each once,
  any other after the dedup by ``report_id`` holds each exactly once. The one hazard is a read
  overlapping the deletion of a retired input it listed just before: the read then fails
  loudly (S3 404), never silently short, and a retry succeeds. Deletions happen once per
  merge, ``delete_after_s`` after it, so such a failure needs a query running across that
  instant and touching that partition.

Late reports for a compacted hour add new small objects; the hour is then deduplicated at read
time again until a later run rewrites it whole (the set and the late objects, into a new set):
the price of a late report is one rewrite of its hour, at most once per ``delete_after_s``.
Objects whose names are not the archiver's or compaction's are never touched, and a partition
holding one is never clean. Run one compactor at a time (``service`` holds a lease): two at
once stay correct (readers still see each report once) but may write two sets, which the next
run merges. Manifest times come from the compactor's clock: hosts must keep time (NTP).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Final

import msgspec

from peaceland.archive.kinds import ARCHIVE_KINDS, Kind
from peaceland.archive.layout import (
    DIGEST_CHARS,
    SUFFIX,
    ObjectName,
    Partition,
    is_one_compacted_set,
    object_key,
    parse_object_key,
)
from peaceland.config import (
    DEFAULT_COMPACT_DELETE_AFTER_S,
    DEFAULT_COMPACT_GRACE_S,
    DEFAULT_COMPACT_TARGET_BYTES,
)
from peaceland.storage import StoredObject

#: Where manifests live, under the key prefix: outside every data folder.
MANIFEST_ROOT: Final = "_compaction/"
MANIFEST_SUFFIX: Final = ".json"


@dataclasses.dataclass(frozen=True, slots=True)
class CompactionPolicy:
    """Merge into objects of about ``target_bytes``; partitions closed for ``grace_s``;
    merged objects deleted ``delete_after_s`` after the merge, on a later run."""

    target_bytes: int = DEFAULT_COMPACT_TARGET_BYTES
    grace_s: float = DEFAULT_COMPACT_GRACE_S
    delete_after_s: float = DEFAULT_COMPACT_DELETE_AFTER_S

    def __post_init__(self) -> None:
        if self.target_bytes < 1 or self.grace_s < 0 or self.delete_after_s < 0:
            raise ValueError(f"compaction limits must be positive: {self}")


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    """A merge done: ``inputs`` may be deleted once ``compacted_at`` + delete_after has passed
    and every output is listed."""

    kind: str
    #: The first output, which names the manifest.
    output: str
    inputs: list[str]
    compacted_at: datetime
    rows_in: int
    rows_out: int
    #: Every output of the set, ``output`` first (empty: ``output`` alone).
    outputs: list[str] = msgspec.field(default_factory=list)

    @property
    def all_outputs(self) -> list[str]:
        return self.outputs or [self.output]


_manifest_encoder: Final = msgspec.json.Encoder()
_manifest_decoder: Final = msgspec.json.Decoder(Manifest)


def encode_manifest(manifest: Manifest) -> bytes:
    return _manifest_encoder.encode(manifest)


def decode_manifest(data: bytes) -> Manifest:
    """Raises ``msgspec.DecodeError`` (a ``ValueError``) when ``data`` is not a manifest."""
    return _manifest_decoder.decode(data)


def manifest_prefix(kind: Kind, key_prefix: str = "", day: date | None = None) -> str:
    """Where the manifests of ``kind`` (of one day) live."""
    where = f"{key_prefix}{MANIFEST_ROOT}{kind}/"
    return where if day is None else f"{where}date={day.isoformat()}/"


def manifest_key(output_key: str, key_prefix: str = "") -> str:
    """The manifest of the merge that wrote ``output_key``."""
    if not output_key.startswith(key_prefix) or not output_key.endswith(SUFFIX):
        raise ValueError(f"not an object key under {key_prefix!r}: {output_key!r}")
    relative = output_key[len(key_prefix) : -len(SUFFIX)]
    return f"{key_prefix}{MANIFEST_ROOT}{relative}{MANIFEST_SUFFIX}"


def data_prefix(kind: Kind, key_prefix: str = "", day: date | None = None) -> str:
    """Where the objects of ``kind`` (of one day) live."""
    where = ARCHIVE_KINDS[kind].prefix(key_prefix)
    return where if day is None else f"{where}date={day.isoformat()}/"


def is_closed(partition: Partition, now: datetime, grace_s: float) -> bool:
    """Whether ``partition`` ended more than ``grace_s`` seconds before ``now``."""
    return partition.end + timedelta(seconds=grace_s) <= now.astimezone(UTC)


@dataclasses.dataclass(frozen=True, slots=True)
class Group:
    """The objects of one partition, to merge into one set of at most ``parts`` objects."""

    partition: Partition
    inputs: tuple[StoredObject, ...]
    parts: int = 1

    @property
    def bytes(self) -> int:
        return sum(o.size for o in self.inputs)

    @property
    def keys(self) -> list[str]:
        return [o.key for o in self.inputs]

    def digest(self, key_prefix: str = "") -> str:
        """A hash of the inputs' keys (relative to the prefix), in any order."""
        hasher = hashlib.blake2b(digest_size=DIGEST_CHARS // 2)
        for key in sorted(k.removeprefix(key_prefix) for k in self.keys):
            hasher.update(key.encode())
            hasher.update(b"\n")
        return hasher.hexdigest()

    def output_key(
        self,
        first_seq: int,
        last_seq: int,
        rows: int,
        key_prefix: str = "",
        part: tuple[int, int] = (1, 1),
    ) -> str:
        """The key of a merged object (part i of n), once its rows are known."""
        digest = self.digest(key_prefix)
        return object_key(
            self.partition,
            first_seq,
            last_seq,
            rows,
            digest,
            key_prefix,
            origin="compact",
            part=part,
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Retirement:
    """A manifest due: its inputs may be deleted (``ready``), or an output is missing and
    the inputs must stay (``ready`` false: the manifest is dropped, the inputs merged again)."""

    key: str
    manifest: Manifest
    ready: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    kind: Kind
    #: One per partition to rewrite.
    groups: list[Group]
    retirements: list[Retirement]
    #: Manifests not yet due, and how many objects they keep for deletion.
    pending: int
    pending_inputs: int
    #: Partitions seen, by state.
    closed_partitions: int
    open_partitions: int
    #: Closed partitions holding exactly one compacted set: nothing to do.
    clean_partitions: int = 0

    @property
    def bytes(self) -> int:
        return sum(g.bytes for g in self.groups)

    @property
    def empty(self) -> bool:
        return not self.groups and not self.retirements


def plan_compaction(
    kind: Kind,
    listing: Iterable[StoredObject],
    manifests: Mapping[str, Manifest],
    now: datetime,
    policy: CompactionPolicy,
    key_prefix: str = "",
    day: date | None = None,
) -> Plan:
    """What one run does with ``kind``: ``listing`` is the bucket under ``data_prefix`` and
    ``manifests`` (by key) those under ``manifest_prefix``. Deterministic, no I/O."""
    objects: dict[str, StoredObject] = {o.key: o for o in listing}
    due_after = timedelta(seconds=policy.delete_after_s)
    retirements: list[Retirement] = []
    busy: set[str] = set()  # retired inputs and fresh outputs: their partitions wait
    pending = pending_inputs = 0
    for key in sorted(manifests):
        manifest = manifests[key]
        busy.update(manifest.inputs)
        busy.update(manifest.all_outputs)
        if manifest.compacted_at + due_after <= now:
            ready = all(output in objects for output in manifest.all_outputs)
            retirements.append(Retirement(key, manifest, ready))
        else:
            pending += 1
            pending_inputs += sum(1 for k in manifest.inputs if k in objects)

    by_partition: dict[Partition, list[tuple[StoredObject, ObjectName]]] = {}
    for obj in objects.values():
        name = parse_object_key(obj.key, key_prefix)
        if name is None or name.partition.kind != kind:
            continue  # not ours: never touched
        if day is not None and name.partition.day != day:
            continue
        by_partition.setdefault(name.partition, []).append((obj, name))

    groups: list[Group] = []
    closed = still_open = clean = 0
    for partition in sorted(by_partition):
        if not is_closed(partition, now, policy.grace_s):
            still_open += 1
            continue
        closed += 1
        entries = by_partition[partition]
        if any(obj.key in busy for obj, _ in entries):
            continue  # a merge of it awaits retirement
        if is_one_compacted_set([name for _, name in entries]):
            clean += 1
            continue
        inputs = tuple(sorted((obj for obj, _ in entries), key=lambda o: o.key))
        size = sum(o.size for o in inputs)
        groups.append(Group(partition, inputs, max(1, math.ceil(size / policy.target_bytes))))
    return Plan(kind, groups, retirements, pending, pending_inputs, closed, still_open, clean)


def readable(keys: Iterable[str], manifests: Iterable[Manifest]) -> list[str]:
    """The Parquet objects a reader needs among ``keys`` (a listing of data objects taken
    *after* ``manifests`` were read): those listed, less the retired inputs, whose rows are in
    outputs the listing holds."""
    retired = {key for m in manifests for key in m.inputs}
    return [k for k in keys if k.endswith(SUFFIX) and k not in retired]
