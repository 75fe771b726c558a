"""The pipeline's edges, as small interfaces: where messages come from and where dead letters
go. JetStream implements them in production (``stream.PullConsumer``, the archiver's
``JetStreamDeadLetters``); the in-memory twins of ``peaceland.testing`` (``MemoryStream``,
``MemoryDeadLetters``) stand in for them in unit tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from peaceland.stream import ACK, OutMessage


class Delivered(Protocol):
    """A fetched message (``nats.aio.msg.Msg`` is one)."""

    @property
    def subject(self) -> str: ...
    @property
    def reply(self) -> str: ...
    @property
    def data(self) -> bytes: ...
    @property
    def headers(self) -> dict[str, str] | None: ...


class Source(Protocol):
    """Where messages come from and are settled (``peaceland.stream.PullConsumer`` is one)."""

    async def fetch(self, batch: int, max_wait_s: float, max_bytes: int) -> Sequence[Delivered]:
        """Up to ``batch`` messages and about ``max_bytes``, within ``max_wait_s``."""
        ...

    async def settle(self, replies: Sequence[str], verdict: bytes = ACK) -> bool: ...


class DeadLetterSink(Protocol):
    async def publish(self, messages: Sequence[OutMessage]) -> list[bool]:
        """Publish; per message, in order, whether the stream stored it."""
        ...
