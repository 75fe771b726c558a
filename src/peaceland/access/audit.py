"""The audit log: officer actions (acknowledge, resolve, token changes) in the ``AUDIT`` stream.

``AUDIT`` is append-only: JetStream refuses deletes and purges on it, keeps entries forever
and, when full, refuses new entries rather than dropping old ones. An entry is written once
the action is applied; if it cannot be written the caller is told (HTTP 503), so no applied
action goes unrecorded silently.

Subjects: ``peaceland.audit.<action>`` with actions ``incident.ack``, ``incident.resolve``,
``token.create``, ``token.revoke``, ``session.login``.
"""

from __future__ import annotations

import contextlib
import getpass
import socket
from datetime import UTC, datetime
from typing import Final

import msgspec

from peaceland.contract import AUDIT_PREFIX, AUDIT_STREAM
from peaceland.stream import JetStreamContext, NotFoundError

MAX_RECENT: Final = 1000


class AuditEntry(msgspec.Struct, frozen=True, kw_only=True):
    at: str
    actor: str  # the token's name, or ``cli:<user>@<host>`` for the command line
    role: str  # the token's role, or ``operator`` for the command line
    action: str
    target: str
    outcome: str = "ok"
    remote: str = ""
    seq: int | None = None  # stream sequence, set when read back


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(AuditEntry).decode


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def cli_actor() -> str:
    """Who acts from the command line: the local user on this host (operators with access
    to the data directory's service credentials)."""
    try:
        user = getpass.getuser()
    except OSError:
        user = "unknown"
    return f"cli:{user}@{socket.gethostname()}"


def entry(
    actor: str, role: str, action: str, target: str, *, outcome: str = "ok", remote: str = ""
) -> AuditEntry:
    return AuditEntry(
        at=now(),
        actor=actor,
        role=role,
        action=action,
        target=target,
        outcome=outcome,
        remote=remote,
    )


async def record(js: JetStreamContext, item: AuditEntry, *, timeout: float = 5.0) -> int:
    """Append ``item``; returns its sequence once JetStream has stored it."""
    ack = await js.publish(AUDIT_PREFIX + item.action, _encode(item), timeout=timeout)
    return ack.seq


async def recent(js: JetStreamContext, limit: int = 100) -> list[AuditEntry]:
    """The last ``limit`` entries, newest first."""
    limit = max(1, min(limit, MAX_RECENT))
    try:
        info = await js.stream_info(AUDIT_STREAM)
    except NotFoundError:
        return []
    first, last = info.state.first_seq, info.state.last_seq
    found: list[AuditEntry] = []
    seq = last
    while seq >= max(first, 1) and len(found) < limit:
        try:
            msg = await js.get_msg(AUDIT_STREAM, seq)
        except NotFoundError:
            seq -= 1
            continue
        # Only services may write here; anything else is skipped, not shown.
        with contextlib.suppress(msgspec.DecodeError):
            if msg.data is not None:
                found.append(msgspec.structs.replace(_decode(msg.data), seq=seq))
        seq -= 1
    return found
