"""Verdicts on delivered messages and what a JetStream reply subject says about them."""

from __future__ import annotations

import dataclasses
from typing import Final

ACK: Final = b"+ACK"
NAK: Final = b"-NAK"  # deliver again now, to any fetcher
PROGRESS: Final = b"+WPI"  # "work in progress": restarts the ack wait
TERM: Final = b"+TERM"  # never redeliver


@dataclasses.dataclass(frozen=True, slots=True)
class AckInfo:
    """What a JetStream reply subject says about a delivered message."""

    stream_seq: int
    delivered: int
    timestamp_ns: int
    consumer_seq: int = 0
    consumer: str = ""
    #: Messages the consumer had not yet delivered when this one was (0: caught up).
    pending: int = 0


def parse_ack_subject(reply: str) -> AckInfo:
    """Parse ``$JS.ACK.[<domain>.<account>.]<stream>.<consumer>.<delivered>.<stream seq>.
    <consumer seq>.<timestamp ns>.<pending>[.<token>]``; ``ValueError`` for anything else."""
    tokens = reply.split(".")
    if len(tokens) == 9:
        base = 4
    elif len(tokens) >= 11:
        base = 6
    else:
        raise ValueError(f"not a JetStream reply subject: {reply!r}")
    if tokens[0] != "$JS" or tokens[1] != "ACK":
        raise ValueError(f"not a JetStream reply subject: {reply!r}")
    return AckInfo(
        stream_seq=int(tokens[base + 1]),
        delivered=int(tokens[base]),
        timestamp_ns=int(tokens[base + 3]),
        consumer_seq=int(tokens[base + 2]),
        consumer=tokens[base - 1],
        pending=int(tokens[base + 4]),
    )
