"""The object-store edge: the only package that talks to S3.

The ``ObjectStore`` interface, its S3 implementation and the S3 readiness probes.
"""

from __future__ import annotations

from peaceland.storage.object_store import ManagedStore, ObjectStore, S3Store, StoredObject
from peaceland.storage.probe import prepare_s3, probe_s3

__all__ = [
    "ManagedStore",
    "ObjectStore",
    "S3Store",
    "StoredObject",
    "prepare_s3",
    "probe_s3",
]
