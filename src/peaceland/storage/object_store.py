"""The object store edge: put, get and list objects in one bucket.

    ObjectStore     the interface (a Protocol) the archiver writes through
    ManagedStore    ObjectStore + delete and whole-file transfers, for compaction
    S3Store         any S3 (SeaweedFS, MinIO, AWS, Ceph) through boto3

The in-memory twin for tests is ``peaceland.testing.MemoryStore``.

Failures are raised as ``StoreError`` with a one-line reason; retrying is the caller's call.

Why boto3 rather than pyarrow's ``S3FileSystem``: the archiver writes whole small objects
(a few MB, one PUT each, which S3 makes visible atomically), so a filesystem layer adds
nothing; boto3 is already the project's S3 client (``peaceland up`` uses it), its errors carry
S3 error codes, and it needs no process-wide ``initialize_s3``/``finalize_s3`` dance. It is
synchronous: calls run in a worker thread (``asyncio.to_thread``), and the client, unlike a
session, is thread-safe.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from boto3.exceptions import S3UploadFailedError
from botocore.exceptions import BotoCoreError, ClientError

from peaceland.config import S3Location
from peaceland.contract import StoreError, describe
from peaceland.storage.probe import s3_client

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: Seconds to connect or to wait for an answer before a call fails (and is retried).
DEFAULT_TIMEOUT_S = 20.0


@dataclasses.dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size: int
    last_modified: datetime


class ObjectStore(Protocol):
    """One bucket. Every method raises ``StoreError`` when the store fails."""

    @property
    def location(self) -> str:
        """Where the bucket is, for messages (no credentials)."""
        ...

    async def put(self, key: str, data: bytes) -> None:
        """Write ``data`` under ``key``, replacing any object there; durable on return."""
        ...

    async def get(self, key: str) -> bytes: ...

    async def list(self, prefix: str) -> list[StoredObject]:
        """Every object whose key starts with ``prefix``, in key order."""
        ...


class ManagedStore(ObjectStore, Protocol):
    """A bucket whose objects are also deleted, and moved to and from local files (objects
    too large to hold in memory: compaction's inputs and outputs)."""

    async def delete(self, keys: Sequence[str]) -> None:
        """Remove ``keys``; a key that is already gone is no error."""
        ...

    async def download(self, key: str, path: Path) -> None:
        """Write the object to the local file ``path``."""
        ...

    async def upload(self, key: str, path: Path) -> None:
        """Write the local file ``path`` under ``key`` (visible at once, whole, on return)."""
        ...


#: Keys per DeleteObjects request (the S3 maximum).
DELETE_BATCH = 1000


class S3Store:
    """A bucket of an S3 server, through one boto3 client used from worker threads."""

    def __init__(self, client: S3Client, bucket: str, endpoint: str) -> None:
        self._client = client
        self.bucket = bucket
        self.endpoint = endpoint

    @classmethod
    def connect(cls, endpoints: S3Location, *, timeout: float = DEFAULT_TIMEOUT_S) -> S3Store:
        client = s3_client(
            endpoints.s3_endpoint,
            endpoints.s3_access_key or None,
            endpoints.s3_secret_key,
            timeout=timeout,
        )
        return cls(client, endpoints.s3_bucket, endpoints.s3_endpoint)

    @property
    def location(self) -> str:
        return f"s3://{self.bucket} at {self.endpoint}"

    def _fail(self, action: str, key: str, exc: Exception) -> StoreError:
        return StoreError(f"S3 {action} {key!r} in {self.location}: {describe(exc)}")

    async def put(self, key: str, data: bytes) -> None:
        try:
            await asyncio.to_thread(self._client.put_object, Bucket=self.bucket, Key=key, Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("put", key, exc) from None

    async def get(self, key: str) -> bytes:
        def fetch() -> bytes:
            return self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

        try:
            return await asyncio.to_thread(fetch)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("get", key, exc) from None

    async def list(self, prefix: str) -> list[StoredObject]:
        def listing() -> list[StoredObject]:
            return list(self._pages(prefix))

        try:
            return await asyncio.to_thread(listing)
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("list", prefix, exc) from None

    async def delete(self, keys: Sequence[str]) -> None:
        def remove(batch: Sequence[str]) -> None:
            answer = self._client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True},
            )
            errors = answer.get("Errors", [])
            if errors:
                first = errors[0]
                raise StoreError(
                    f"S3 delete {first.get('Key')!r} in {self.location}: "
                    f"{first.get('Code')} {first.get('Message', '')} ({len(errors)} keys failed)"
                )

        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            try:
                await asyncio.to_thread(remove, batch)
            except (BotoCoreError, ClientError) as exc:
                raise self._fail("delete", batch[0], exc) from None

    async def download(self, key: str, path: Path) -> None:
        try:
            await asyncio.to_thread(self._client.download_file, self.bucket, key, str(path))
        except (BotoCoreError, ClientError) as exc:
            raise self._fail("get", key, exc) from None

    async def upload(self, key: str, path: Path) -> None:
        try:
            await asyncio.to_thread(self._client.upload_file, str(path), self.bucket, key)
        except (BotoCoreError, ClientError, S3UploadFailedError) as exc:
            raise self._fail("put", key, exc) from None

    def _pages(self, prefix: str) -> Iterator[StoredObject]:
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield StoredObject(item["Key"], item["Size"], item["LastModified"])

    def close(self) -> None:
        self._client.close()
