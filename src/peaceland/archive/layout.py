"""Where archived objects live in the bucket, and how they are named. Pure.

Layout (contract)::

    reports/date=YYYY-MM-DD/hour=HH/<name>.parquet      event time (report ``ts``), UTC
    alerts/date=YYYY-MM-DD/hour=HH/<name>.parquet       event time (alert ``ts``), UTC
    deadletter/date=YYYY-MM-DD/<name>.parquet           JetStream time (no valid event time)

Hive-style ``key=value`` folders, so DuckDB, Spark, Polars and Trino read ``date`` and ``hour``
as columns and prune partitions on time filters.

Names written by the archiver: ``seq-<first>-<last>-n<rows>-<digest>.parquet``. ``first`` and
``last`` are the smallest and largest stream sequences in the object, ``rows`` its row count
(so ``archive status`` counts rows from a listing) and ``digest`` a hash of the exact set of
(stream sequence, JetStream timestamp) pairs it holds. Compaction
(``archive.compaction``) rewrites a closed partition into one *set* of objects,
``compact-<first>-<last>-n<rows>-<digest>[-p<i>of<n>].parquet``: the same parts, ``digest``
(shared by the whole set) a hash of the keys of the objects it merged, and, when the partition
was split into ``n`` objects by ranges of its dedup key, which one this is. A partition that
holds exactly one complete set (``is_one_compacted_set``) holds each row once: readers need
not deduplicate it.

Exactly once, step by step:

1. An object holds only messages of one stream, and its name is a function of exactly which
   messages it holds. Writing it again (a retry, a redelivered batch of the same messages)
   replaces it with the same rows: a retry never duplicates.
2. Two different sets of messages never share a name (the digest covers the whole set, and
   the JetStream timestamps tell a recreated stream's sequence numbers from the old ones), so
   a write never replaces rows of another batch: nothing is lost by overwriting, even when
   two archivers hold the same redelivered message at once.
3. Messages are acknowledged only after every object holding them is written. A crash in
   between redelivers them, maybe grouped differently, so the bucket may hold a report twice
   under two names (at least once, never zero times).
4. Readers remove those duplicates by ``report_id`` (the contract's dedup key), keeping the
   first received copy; so does compaction, which rewrites closed hours without them::

       SELECT * EXCLUDE (stream_seq, date, hour)
       FROM read_parquet('s3://<bucket>/reports/*/*/*.parquet', hive_partitioning = true)
       QUALIFY row_number() OVER (PARTITION BY report_id ORDER BY received_at, stream_seq) = 1

   The same report re-sent within JetStream's 2-hour duplicate window never even reaches the
   stream twice (``Nats-Msg-Id`` = report_id).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import sys
from array import array
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Final, Literal

from peaceland.archive.kinds import ARCHIVE_KINDS, KINDS, Kind

#: Who wrote an object: an archiver (``seq-…``) or compaction (``compact-…``).
Origin = Literal["seq", "compact"]

SEQ_DIGITS: Final = 12
DIGEST_CHARS: Final = 12
SUFFIX: Final = ".parquet"

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_NAME_RE: Final = re.compile(
    rf"(?P<kind>{'|'.join(KINDS)})/date="
    r"(?P<date>\d{4}-\d{2}-\d{2})/"
    r"(?:hour=(?P<hour>\d{2})/)?"
    r"(?P<origin>seq|compact)-"
    r"(?P<first>\d+)-(?P<last>\d+)-n(?P<rows>\d+)-(?P<digest>[0-9a-f]+)"
    r"(?:-p(?P<part>\d+)of(?P<parts>\d+))?\.parquet\Z"
)


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class Partition:
    """One folder of the layout: a kind, a UTC date and, for hourly kinds, an hour."""

    kind: Kind
    day: date
    hour: int | None = None

    def __post_init__(self) -> None:
        hourly = ARCHIVE_KINDS[self.kind].hourly
        if (self.hour is None) == hourly:
            raise ValueError(f"{self.kind} is partitioned {'by hour' if hourly else 'by day'}")
        if self.hour is not None and not 0 <= self.hour <= 23:
            raise ValueError(f"hour must be 0..23, got {self.hour}")

    @classmethod
    def at(cls, kind: Kind, when: datetime) -> Partition:
        """The partition holding the instant ``when`` (timezone-aware)."""
        if when.utcoffset() is None:
            raise ValueError("partition time must be timezone-aware")
        utc = when.astimezone(UTC)
        return cls(kind, utc.date(), utc.hour if ARCHIVE_KINDS[kind].hourly else None)

    @classmethod
    def of_micros(cls, kind: Kind, micros: int) -> Partition:
        """The partition holding ``micros`` microseconds since the Unix epoch."""
        return cls.at(kind, _EPOCH + timedelta(microseconds=micros))

    def path(self, key_prefix: str = "") -> str:
        """``[prefix]kind/date=YYYY-MM-DD/[hour=HH/]``."""
        hour = "" if self.hour is None else f"hour={self.hour:02d}/"
        return f"{key_prefix}{self.kind}/date={self.day.isoformat()}/{hour}"

    @property
    def start(self) -> datetime:
        hour = self.hour or 0
        return datetime(self.day.year, self.day.month, self.day.day, hour, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first instant after the partition."""
        span = timedelta(hours=1) if self.hour is not None else timedelta(days=1)
        return self.start + span


def digest_bytes(seqs_le: bytes, received_le: bytes) -> str:
    """The digest of a set of messages from its sequences sorted ascending and their
    timestamps in the same order, each as little-endian int64 bytes."""
    hasher = hashlib.blake2b(digest_size=DIGEST_CHARS // 2)
    hasher.update(seqs_le)
    hasher.update(received_le)
    return hasher.hexdigest()


def batch_digest(seqs: Sequence[int], received_us: Sequence[int]) -> str:
    """Hash of the set of (stream sequence, JetStream timestamp in µs) pairs, in any order."""
    if len(seqs) != len(received_us):
        raise ValueError("one timestamp per sequence")
    pairs = sorted(zip(seqs, received_us, strict=True))
    ordered_seqs = array("q", [seq for seq, _ in pairs])
    ordered_times = array("q", [when for _, when in pairs])
    if sys.byteorder != "little":  # pragma: no cover - no big-endian CI
        ordered_seqs.byteswap()
        ordered_times.byteswap()
    return digest_bytes(ordered_seqs.tobytes(), ordered_times.tobytes())


def object_key(
    partition: Partition,
    first_seq: int,
    last_seq: int,
    rows: int,
    digest: str,
    key_prefix: str = "",
    *,
    origin: Origin = "seq",
    part: tuple[int, int] = (1, 1),
) -> str:
    """The deterministic key of the object holding exactly the messages ``digest`` covers
    (``origin="compact"``: of a compacted object, ``digest`` covering the merged keys, and
    ``part`` = (i, n) when it is the i-th of n objects the merge wrote)."""
    if rows < 1 or first_seq > last_seq:
        raise ValueError("an object holds at least one message")
    index, count = part
    if not 1 <= index <= count or (count > 1 and origin != "compact"):
        raise ValueError(f"not a part of a compacted set: {part}")
    split = f"-p{index}of{count}" if count > 1 else ""
    name = (
        f"{origin}-{first_seq:0{SEQ_DIGITS}d}-{last_seq:0{SEQ_DIGITS}d}-n{rows}-{digest}"
        f"{split}{SUFFIX}"
    )
    return partition.path(key_prefix) + name


@dataclasses.dataclass(frozen=True, slots=True)
class ObjectName:
    """What an archiver-written (or compacted) key says about its object."""

    partition: Partition
    first_seq: int
    last_seq: int
    rows: int
    digest: str
    #: Written by compaction (``compact-…``) rather than by an archiver (``seq-…``).
    compacted: bool = False
    #: Which of how many objects of one compacted set (1 of 1 unless the merge split).
    part: int = 1
    parts: int = 1


def parse_object_key(key: str, key_prefix: str = "") -> ObjectName | None:
    """The parts of a key ``object_key`` wrote; ``None`` for any other key."""
    if not key.startswith(key_prefix):
        return None
    match = _NAME_RE.match(key, len(key_prefix))
    if match is None:
        return None
    kind: Kind = match["kind"]  # type: ignore[assignment]  # the regex allows only KINDS
    hour = int(match["hour"]) if match["hour"] is not None else None
    try:
        partition = Partition(kind, date.fromisoformat(match["date"]), hour)
    except ValueError:
        return None
    return ObjectName(
        partition,
        int(match["first"]),
        int(match["last"]),
        int(match["rows"]),
        match["digest"],
        compacted=match["origin"] == "compact",
        part=int(match["part"] or 1),
        parts=int(match["parts"] or 1),
    )


def is_one_compacted_set(names: Sequence[ObjectName | None]) -> bool:
    """Whether the objects of one partition are exactly one complete compacted set: parts
    1..n of one merge, nothing else (``None``: a name that is not the layout's). Such a
    partition holds each row once (the merge deduplicated all it read); anything else (an
    archiver's object, a second set, a missing part) may hold a row twice."""
    if not names or any(n is None or not n.compacted for n in names):
        return False
    known = [n for n in names if n is not None]
    first = known[0]
    return sorted(n.part for n in known) == list(range(1, first.parts + 1)) and all(
        (n.digest, n.parts, n.partition) == (first.digest, first.parts, first.partition)
        for n in known
    )


def kind_prefix(kind: Kind, key_prefix: str = "") -> str:
    """Where every object of ``kind`` lives: ``[prefix]kind/``."""
    return ARCHIVE_KINDS[kind].prefix(key_prefix)
