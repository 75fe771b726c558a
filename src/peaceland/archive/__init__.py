"""The archive: REPORTS, ALERTS and DEADLETTER as Parquet on S3, exactly once.

``kinds`` is the one table of what is archived (stream, schema, partitioning, dedup keys,
view columns); layout, rows, schemas, Parquet encoding and batching are pure; the pipeline
and the archiver do the I/O; compaction rewrites closed hours as large files holding each row once.
"""

from __future__ import annotations

from peaceland.archive.archiver import ArchiverOptions, run_archiver
from peaceland.archive.batching import FlushPolicy
from peaceland.archive.compaction import (
    CompactionPolicy,
    CompactOptions,
    CompactorOptions,
    KindResult,
    Plan,
    compact,
    run_compactor,
)
from peaceland.archive.kinds import (
    ALERTS_KIND,
    ARCHIVE_KINDS,
    DEADLETTER_KIND,
    FIRST_RECEIVED,
    KINDS,
    REPORTS_KIND,
    ArchiveKind,
    Kind,
    Partitioning,
    archive_kind,
)
from peaceland.archive.layout import is_one_compacted_set, parse_object_key
from peaceland.archive.pipeline import PipelineOptions
from peaceland.archive.schemas import ALERTS_SCHEMA, DEADLETTER_SCHEMA, REPORTS_SCHEMA
from peaceland.archive.status import archive_status

__all__ = [
    "ALERTS_KIND",
    "ALERTS_SCHEMA",
    "ARCHIVE_KINDS",
    "DEADLETTER_KIND",
    "DEADLETTER_SCHEMA",
    "FIRST_RECEIVED",
    "KINDS",
    "REPORTS_KIND",
    "REPORTS_SCHEMA",
    "ArchiveKind",
    "ArchiverOptions",
    "CompactOptions",
    "CompactionPolicy",
    "CompactorOptions",
    "FlushPolicy",
    "Kind",
    "KindResult",
    "Partitioning",
    "PipelineOptions",
    "Plan",
    "archive_kind",
    "archive_status",
    "compact",
    "is_one_compacted_set",
    "parse_object_key",
    "run_archiver",
    "run_compactor",
]
