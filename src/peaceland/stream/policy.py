"""What becomes of a delivered message: one retry, poison and dead-letter policy.

Pure: given how many times JetStream delivered a message, ``RetryPolicy`` says whether to
handle it at all (a poison message — one that keeps killing or stalling its consumers — is
dead-lettered instead) and, when handling failed, whether it comes back later (a negative
acknowledgement with a delay) or is given up (terminated, so it stays in its stream and the log
says where). ``deadletter_id`` names a dead letter from the message's stream position, so every
redelivery of the same message makes the same id and JetStream stores its dead letter once.
``apply`` carries a decision out on a message.
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Protocol


class Action(enum.Enum):
    ACK = "ack"
    NAK = "nak"
    TERM = "term"
    DEAD_LETTER = "deadletter"


@dataclasses.dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    #: For ``NAK``: how long JetStream waits before delivering the message again.
    delay_s: float = 0.0


ACK_NOW = Decision(Action.ACK)
TERMINATE = Decision(Action.TERM)
DEAD_LETTER = Decision(Action.DEAD_LETTER)


@dataclasses.dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_deliver``: the consumer's (JetStream delivers no more; -1 unlimited).
    ``poison_after``: deliveries after which a message is poison (``None``: never)."""

    max_deliver: int = -1
    retry_delay_s: float = 1.0
    poison_after: int | None = None

    def __post_init__(self) -> None:
        if self.retry_delay_s < 0:
            raise ValueError(f"retry_delay_s: need >= 0, got {self.retry_delay_s}")

    def is_poison(self, delivered: int) -> bool:
        return self.poison_after is not None and delivered > self.poison_after

    def on_delivery(self, delivered: int) -> Decision | None:
        """Before handling: ``DEAD_LETTER`` for poison, else ``None`` (handle it)."""
        return DEAD_LETTER if self.is_poison(delivered) else None

    def on_failure(self, delivered: int) -> Decision:
        """Handling (or dead-lettering) failed: ``NAK`` with the delay while a retry is left;
        ``TERM`` at JetStream's last delivery, or for poison whose dead letter failed too."""
        last = 0 < self.max_deliver <= delivered
        return (
            TERMINATE
            if last or self.is_poison(delivered)
            else Decision(Action.NAK, self.retry_delay_s)
        )


def deadletter_id(source: str, stream: str, stream_seq: int, timestamp_ns: int) -> str:
    """The ``Nats-Msg-Id`` of the dead letter ``source`` makes of a message: its stream and
    sequence, and the time it was stored (a stream deleted and created again reuses sequences)."""
    return f"{source}:{stream}:{stream_seq}:{timestamp_ns}"


class Settleable(Protocol):
    """A delivered message (``nats.aio.msg.Msg`` is one)."""

    async def ack(self) -> None: ...
    async def nak(self, delay: float | None = None) -> None: ...
    async def term(self) -> None: ...


async def apply(msg: Settleable, decision: Decision) -> None:
    """Acknowledge, negatively acknowledge with the delay, or terminate ``msg``. A dead letter
    is the caller's to publish first, then acknowledge."""
    if decision.action is Action.ACK:
        await msg.ack()
    elif decision.action is Action.NAK:
        await msg.nak(delay=decision.delay_s)
    elif decision.action is Action.TERM:
        await msg.term()
    else:
        raise ValueError("a dead letter is published by the caller, then acknowledged")
