"""In-memory twins of the edges, for fast tests without servers.

MemoryStore      the ``ManagedStore`` of ``peaceland.storage``, with switchable outages
MemoryKeyValue   the ``KeyValue`` of the incident store, with a hook before each write
MemoryDeadLetters  the archive pipeline's ``DeadLetterSink``, refusing all when ``failing``
(``MemoryStream``, a stream with one durable pull consumer, is in ``memory_stream``.)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from peaceland.contract import StoreError
from peaceland.delivery import Conflict
from peaceland.storage import StoredObject
from peaceland.stream import OutMessage


class MemoryStore:
    """The in-memory twin of ``S3Store``: a dict of objects, and outages switched on and off
    by tests."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.modified: dict[str, datetime] = {}
        self.puts = 0
        self.failed_puts = 0
        self._down: str | None = None
        self._lock = threading.Lock()

    @property
    def location(self) -> str:
        return "memory"

    def go_down(self, reason: str = "connection refused") -> None:
        """Every call fails with ``reason`` until ``come_back``."""
        self._down = reason

    def come_back(self) -> None:
        self._down = None

    def _check(self, action: str, key: str) -> None:
        if self._down is not None:
            raise StoreError(f"memory {action} {key!r}: {self._down}")

    async def put(self, key: str, data: bytes) -> None:
        with self._lock:
            if self._down is not None:
                self.failed_puts += 1
            self._check("put", key)
            self.objects[key] = bytes(data)
            self.modified[key] = datetime.now(UTC)
            self.puts += 1

    async def get(self, key: str) -> bytes:
        self._check("get", key)
        try:
            return self.objects[key]
        except KeyError:
            raise StoreError(f"memory get {key!r}: no such key") from None

    async def list(self, prefix: str) -> list[StoredObject]:
        self._check("list", prefix)
        with self._lock:
            keys = sorted(k for k in self.objects if k.startswith(prefix))
            return [StoredObject(k, len(self.objects[k]), self.modified[k]) for k in keys]

    async def delete(self, keys: Sequence[str]) -> None:
        self._check("delete", keys[0] if keys else "")
        with self._lock:
            for key in keys:
                self.objects.pop(key, None)
                self.modified.pop(key, None)

    async def download(self, key: str, path: Path) -> None:
        data = await self.get(key)
        await asyncio.to_thread(path.write_bytes, data)

    async def upload(self, key: str, path: Path) -> None:
        await self.put(key, await asyncio.to_thread(path.read_bytes))


class MemoryKeyValue:
    """The in-memory twin of ``NatsKeyValue``. ``before_write`` runs before each conditional
    write, so a test can slip in a concurrent change."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[bytes, int]] = {}
        self.revision = 0
        self.writes = 0
        self.before_write: Callable[[str], None] | None = None

    async def get(self, key: str) -> tuple[bytes, int] | None:
        await asyncio.sleep(0)
        return self.data.get(key)

    def _store(self, key: str, value: bytes) -> int:
        self.revision += 1
        self.writes += 1
        self.data[key] = (value, self.revision)
        return self.revision

    async def create(self, key: str, value: bytes) -> int:
        if self.before_write is not None:
            self.before_write(key)
        if key in self.data:
            raise Conflict(key)
        return self._store(key, value)

    async def update(self, key: str, value: bytes, revision: int) -> int:
        if self.before_write is not None:
            self.before_write(key)
        if key not in self.data or self.data[key][1] != revision:
            raise Conflict(key)
        return self._store(key, value)

    async def put(self, key: str, value: bytes) -> int:
        return self._store(key, value)

    async def values(self, prefix: str) -> list[bytes]:
        return [value for key, (value, _) in sorted(self.data.items()) if key.startswith(prefix)]


class MemoryDeadLetters:
    """The in-memory twin of the dead letter stream, for tests; ``failing`` refuses all."""

    def __init__(self) -> None:
        self.messages: list[OutMessage] = []
        self.failing = False

    async def publish(self, messages: Sequence[OutMessage]) -> list[bool]:
        if self.failing:
            return [False] * len(messages)
        self.messages.extend(messages)
        return [True] * len(messages)
