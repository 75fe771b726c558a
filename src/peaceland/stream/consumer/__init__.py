"""Consumers of streams: one pull engine, a bounded ``fetch()`` and a continuous ``messages()``.

* ``spec``: ``ConsumerSpec`` (a durable's settings), ``ensure_consumer``, ``consumer_lag`` and
  ``Lag`` (pending, ack pending).
* ``pull``: ``PullConsumer`` (a durable, shared by several processes) with ``fetch``,
  ``messages`` (a ``MessageStream``), ``settle`` and ``lag``.
* ``ordered``: ``OrderedConsumer``, an ephemeral in-order reader from a ``Start`` that resumes
  at the right sequence when lost.
* ``request``: the pull request body and subject, the re-creation ``Backoff``.
* ``stall``: ``StallWatch``, which notices messages pending and none delivered.
* ``ack``: verdicts (``ACK``, ``NAK``, ``PROGRESS``, ``TERM``) and ``parse_ack_subject``.
"""

from __future__ import annotations

from peaceland.stream.consumer.ack import ACK, NAK, PROGRESS, TERM, AckInfo, parse_ack_subject
from peaceland.stream.consumer.ordered import Consuming, OrderedConsumer, Start
from peaceland.stream.consumer.pull import MessageStream, PullConsumer
from peaceland.stream.consumer.spec import ConsumerSpec, Lag, consumer_lag, ensure_consumer

__all__ = [
    "ACK",
    "NAK",
    "PROGRESS",
    "TERM",
    "AckInfo",
    "ConsumerSpec",
    "Consuming",
    "Lag",
    "MessageStream",
    "OrderedConsumer",
    "PullConsumer",
    "Start",
    "consumer_lag",
    "ensure_consumer",
    "parse_ack_subject",
]
