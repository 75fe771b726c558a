"""Compaction of the archive: closed partitions' small objects merged into large ones.

``plan`` decides which objects to merge and when to delete them (pure, with the protocol that
keeps readers right), ``merge`` merges local Parquet files without duplicates in bounded
memory, and ``compactor`` carries a plan out against the bucket.
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

__all__ = [
    "CompactOptions",
    "CompactionPolicy",
    "KindResult",
    "Plan",
    "Progress",
    "compact",
    "readable_keys",
]
