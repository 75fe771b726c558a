"""Webhook delivery rules: signature, what an answer means, when to retry. Pure.

* ``sign(secret, body)`` → ``"sha256=<hex>"``, the ``Peaceland-Signature`` header: HMAC-SHA256
  of the exact body bytes. Receivers check it with ``verify`` (constant-time).
* ``verdict(status)`` — ``delivered`` for 2xx; ``retry`` for 408, 425, 429 and 5xx (and for
  no answer at all: network error, timeout); ``reject`` for any other answer (other 4xx, and
  3xx: redirects are not followed, a webhook URL must be the final one). A rejected alert is
  never retried: it is recorded as failed, with the answer.
* ``backoff(attempt, base, cap, jitter)`` — exponential: ``base * 2**(attempt-1)``, capped,
  scaled by ``0.75 + jitter/2`` (``jitter``: a random number in [0, 1)) so many failed alerts
  do not retry in lockstep; a ``Retry-After`` answer is honoured up to the cap
  (``retry_after``).
* ``endpoint_id(url)`` — 12 hex digits naming an endpoint (its durable consumer
  ``webhook-<id>``) without writing its URL, which may hold a token, into NATS.
* ``redact(url)`` — the URL without credentials or query, fit for logs and dead letters.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.parse
from typing import Final, Literal

SIGNATURE_HEADER: Final = "Peaceland-Signature"
ALERT_ID_HEADER: Final = "Peaceland-Alert-Id"
ATTEMPT_HEADER: Final = "Peaceland-Delivery-Attempt"

Verdict = Literal["delivered", "retry", "reject"]
_RETRYABLE_4XX: Final = frozenset({408, 425, 429})


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def verdict(status: int | None) -> Verdict:
    """What an HTTP answer (None: no answer) means for the alert."""
    if status is None or status >= 500 or status in _RETRYABLE_4XX:
        return "retry"
    if 200 <= status < 300:
        return "delivered"
    return "reject"


def backoff(attempt: int, base: float, cap: float, jitter: float = 0.5) -> float:
    """Seconds before attempt ``attempt + 1``; ``jitter`` in [0, 1) from the caller's random."""
    delay = min(cap, base * 2.0 ** max(0, min(attempt - 1, 62)))
    return min(cap, delay * (0.75 + jitter / 2))


def retry_after(value: str | None, cap: float) -> float | None:
    """A ``Retry-After`` header in seconds (the date form is ignored), at most ``cap``."""
    if value is None or not value.strip().isdigit():
        return None
    return min(cap, float(value.strip()))


def endpoint_id(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:12]


def redact(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
