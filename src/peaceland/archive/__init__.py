"""The archive: REPORTS, ALERTS and DEADLETTER as Parquet on S3, exactly once.

Layout, format and batching are pure; the pipeline and the archiver do the I/O;
compaction merges closed hours into large deduplicated files.
"""

from __future__ import annotations

from peaceland.archive.archiver import ArchiverOptions, run_archiver
from peaceland.archive.batching import FlushPolicy
from peaceland.archive.compaction import CompactionPolicy, Plan
from peaceland.archive.compactor import CompactOptions, KindResult, compact
from peaceland.archive.format import ALERTS_SCHEMA, REPORTS_SCHEMA
from peaceland.archive.layout import KINDS, Kind
from peaceland.archive.pipeline import PipelineOptions
from peaceland.archive.status import archive_status

__all__ = [
    "ALERTS_SCHEMA",
    "KINDS",
    "REPORTS_SCHEMA",
    "ArchiverOptions",
    "CompactOptions",
    "CompactionPolicy",
    "FlushPolicy",
    "Kind",
    "KindResult",
    "PipelineOptions",
    "Plan",
    "archive_status",
    "compact",
    "run_archiver",
]
