"""``MemoryStream``: the in-memory twin of a stream with one durable pull consumer, for tests.

It has the ``fetch``/``settle`` surface of ``PullConsumer`` that the archive pipeline uses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence

from peaceland.stream import ACK, PROGRESS, parse_ack_subject


@dataclasses.dataclass(frozen=True, slots=True)
class MemoryMessage:
    """A delivered message of ``MemoryStream`` (the fields of ``nats.aio.msg.Msg`` we use)."""

    subject: str
    reply: str
    data: bytes
    headers: dict[str, str] | None = None


class MemoryStream:
    """The in-memory twin of a stream with one durable pull consumer, for tests.

    Messages are delivered in order, each with a JetStream reply subject; one not settled
    within ``ack_wait_s`` (by the injected clock) is delivered again, first, with its delivery
    count raised. ``fetch`` never waits: tests drive the clock.
    """

    def __init__(
        self,
        stream: str = "REPORTS",
        durable: str = "archiver",
        *,
        ack_wait_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        first_timestamp_ns: int = 1_795_000_000_000_000_000,
    ) -> None:
        self.stream, self.durable = stream, durable
        self.ack_wait_s = ack_wait_s
        self.clock = clock
        self._first_ns = first_timestamp_ns
        self._messages: list[tuple[str, bytes, dict[str, str] | None]] = []
        self._next = 0  # messages[:_next] were delivered at least once
        self._deadlines: dict[int, float] = {}  # delivered, unsettled: seq → redelivery time
        self.deliveries: dict[int, int] = {}
        self.acked: set[int] = set()
        self.terminated: set[int] = set()
        self.fetches = 0
        self._consumer_seq = 0

    def publish(self, subject: str, data: bytes, headers: dict[str, str] | None = None) -> int:
        """Store a message; returns its stream sequence (from 1)."""
        self._messages.append((subject, data, headers))
        return len(self._messages)

    def timestamp_ns(self, seq: int) -> int:
        return self._first_ns + seq * 1000

    @property
    def unsettled(self) -> int:
        """Messages neither acknowledged nor terminated."""
        return len(self._messages) - len(self.acked) - len(self.terminated)

    @property
    def in_flight(self) -> int:
        return len(self._deadlines)

    async def fetch(self, batch: int, max_wait_s: float, max_bytes: int) -> list[MemoryMessage]:
        self.fetches += 1
        now = self.clock()
        out: list[MemoryMessage] = []
        size = 0

        def take(seq: int) -> bool:
            nonlocal size
            subject, data, headers = self._messages[seq - 1]
            if len(out) >= batch or (out and size + len(data) > max_bytes):
                return False
            size += len(data)
            out.append(MemoryMessage(subject, self._deliver(seq, now), data, headers))
            return True

        due = sorted(seq for seq, deadline in self._deadlines.items() if deadline <= now)
        if all(take(seq) for seq in due):
            while self._next < len(self._messages) and take(self._next + 1):
                self._next += 1
        await asyncio.sleep(0)
        return out

    def _deliver(self, seq: int, now: float) -> str:
        count = self.deliveries[seq] = self.deliveries.get(seq, 0) + 1
        self._deadlines[seq] = now + self.ack_wait_s
        self._consumer_seq += 1
        pending = len(self._messages) - max(self._next, seq)  # not yet delivered
        return (
            f"$JS.ACK.{self.stream}.{self.durable}.{count}.{seq}.{self._consumer_seq}."
            f"{self.timestamp_ns(seq)}.{pending}"
        )

    async def settle(self, replies: Sequence[str], verdict: bytes = ACK) -> bool:
        now = self.clock()
        for reply in replies:
            seq = parse_ack_subject(reply).stream_seq
            if seq not in self._deadlines:
                continue  # already settled (or a late verdict after redelivery)
            if verdict == PROGRESS:
                self._deadlines[seq] = now + self.ack_wait_s
                continue
            del self._deadlines[seq]
            (self.acked if verdict == ACK else self.terminated).add(seq)
        return True
