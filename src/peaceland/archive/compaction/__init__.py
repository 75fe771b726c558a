"""Compaction of the archive: closed partitions' small objects merged into large ones.

``plan`` decides which objects to merge and when to delete them (pure, with the protocol that
keeps readers right), ``merge`` merges local Parquet files without duplicates in bounded
memory, ``compactor`` carries a plan out against the bucket, and ``service`` runs passes
every interval as the ``peaceland compactor`` component.
"""

from __future__ import annotations

from peaceland.archive.compaction.compactor import (
    CompactOptions,
    KindResult,
    Progress,
    compact,
    readable_keys,
)
from peaceland.archive.compaction.plan import CompactionPolicy, Plan
from peaceland.archive.compaction.service import (
    CompactorCounters,
    CompactorOptions,
    compaction_pass,
    run_compactor,
)

__all__ = [
    "CompactOptions",
    "CompactionPolicy",
    "CompactorCounters",
    "CompactorOptions",
    "KindResult",
    "Plan",
    "Progress",
    "compact",
    "compaction_pass",
    "readable_keys",
    "run_compactor",
]
