"""Messages out: ``OutMessage``, concurrent publishing, dead letters."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterable, Mapping

from nats.js import JetStreamContext
from nats.js import api as js_api

from peaceland.contract import ERROR_HEADER, MSG_ID_HEADER, deadletter_subject


@dataclasses.dataclass(frozen=True, slots=True)
class OutMessage:
    subject: str
    payload: bytes
    msg_id: str | None = None
    headers: Mapping[str, str] | None = None

    def all_headers(self) -> dict[str, str] | None:
        headers = dict(self.headers) if self.headers else {}
        if self.msg_id is not None:
            headers[MSG_ID_HEADER] = self.msg_id
        return headers or None


async def publish_all(
    js: JetStreamContext, messages: Iterable[OutMessage], *, timeout: float = 10.0
) -> list[js_api.PubAck | Exception]:
    """Publish concurrently and wait for every JetStream acknowledgement.

    Returns, in input order, the ack or the exception for each message, so a caller can
    answer per item. A message is durable only when its ack is returned. Each publish is a
    request with its own timeout (nats-py's ``publish_async`` keeps a pending slot forever
    when the publish itself raises, which would slowly starve a long-running gateway).
    """
    batch = list(messages)
    if not batch:
        return []
    results = await asyncio.gather(
        *(
            js.publish(m.subject, m.payload, timeout=timeout, headers=m.all_headers())
            for m in batch
        ),
        return_exceptions=True,
    )
    return [r if isinstance(r, js_api.PubAck | Exception) else RuntimeError(r) for r in results]


def deadletter_message(source: str, payload: bytes, reason: str) -> OutMessage:
    """A dead letter: the payload untouched, the reason in the ``Peaceland-Error`` header."""
    # Header values are one line of text; keep the reason readable and bounded.
    clean = " ".join(reason.split())[:1000]
    return OutMessage(deadletter_subject(source), payload, headers={ERROR_HEADER: clean})
