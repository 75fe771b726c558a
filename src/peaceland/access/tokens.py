"""API tokens in a JetStream key-value bucket, ``TOKENS``: shared by every gateway process.

Key: the token's SHA-256 (hex); value: a ``TokenRecord`` (name, role, who created it, when).
The token itself is never stored. Lookups are cached for ``CACHE_S`` seconds per process, so
a revoked token stops working everywhere within that time (at once in the revoking process);
misses are cached too, so a flood of bad tokens costs no bucket reads.

A dashboard login opens a *session*: a separate random token with the same role, valid for
``SESSION_S`` and kept in the browser's cookie, so the API token never sits in a cookie.
Logging out revokes the session; revoking a token revokes its sessions.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

import msgspec

from peaceland.access.roles import (
    TOKEN_NAME_RULE,
    Role,
    TokenRecord,
    new_token,
    token_hash,
    valid_token_name,
)
from peaceland.contract import AccessError, UnknownToken, valid_drone_id
from peaceland.stream import (
    TOKENS_BUCKET,
    JetStreamContext,
    KeyNotFoundError,
    NoKeysError,
    open_bucket,
)
from peaceland.stream import Bucket as KeyValue

log = logging.getLogger(__name__)

#: Defined in the stream's registry of buckets (``peaceland.stream.BUCKETS``).
BUCKET_SPEC: Final = TOKENS_BUCKET
BUCKET: Final = BUCKET_SPEC.name
CACHE_S: Final = 5.0
CACHE_ENTRIES: Final = 10_000
SESSION_S: Final = 12 * 60 * 60  # one shift

_decode = msgspec.json.Decoder(TokenRecord).decode
_encode = msgspec.json.Encoder().encode


def _now() -> str:
    return _iso(datetime.now(UTC))


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def expired(record: TokenRecord, now: datetime | None = None) -> bool:
    if record.expires_at is None:
        return False
    ends = datetime.fromisoformat(record.expires_at.replace("Z", "+00:00"))
    return (now or datetime.now(UTC)) >= ends


class TokenStore:
    def __init__(
        self, kv: KeyValue, *, cache_s: float = CACHE_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.kv = kv
        self.cache_s = cache_s
        self.clock = clock
        self._cache: OrderedDict[str, tuple[float, TokenRecord | None]] = OrderedDict()

    @classmethod
    async def open(cls, js: JetStreamContext, replicas: int = 1) -> TokenStore:
        """Bind to ``TOKENS``, creating it when missing."""
        return cls(await open_bucket(js, BUCKET_SPEC, replicas=replicas))

    async def create(
        self, name: str, role: Role, created_by: str, *, drone_id: str | None = None
    ) -> tuple[str, TokenRecord]:
        """A new token for ``name`` (unique); returns the token, shown once, and its record.
        ``drone_id`` binds a drone token to one drone."""
        if not valid_token_name(name):
            raise AccessError(f"invalid token name {name!r}: {TOKEN_NAME_RULE}")
        if drone_id is not None and (role is not Role.DRONE or not valid_drone_id(drone_id)):
            raise AccessError(
                f"only a drone token can be bound to a drone, by a valid id: {drone_id!r}"
            )
        if any(record.name == name for record in await self.records()):
            raise AccessError(f"a token named {name!r} exists; revoke it first")
        token = new_token()
        record = TokenRecord(
            name=name, role=role, created_at=_now(), created_by=created_by, drone_id=drone_id
        )
        await self.kv.create(token_hash(token), _encode(record))
        return token, record

    async def replace(self, name: str, role: Role, created_by: str) -> tuple[str, TokenRecord]:
        """A new token for ``name``, revoking the one it had (e.g. the demo's console)."""
        with contextlib.suppress(UnknownToken):
            await self.revoke(name)
        return await self.create(name, role, created_by)

    async def records(self) -> list[TokenRecord]:
        """The API tokens (sessions left out)."""
        found = [record for _, record in await self._all() if record.session_of is None]
        return sorted(found, key=lambda r: r.name)

    async def revoke(self, name: str) -> TokenRecord:
        """Revoke the token named ``name`` and every session opened with it."""
        revoked = None
        for key, record in await self._all():
            if record.session_of == name or (record.name == name and record.session_of is None):
                await self._purge(key)
                if record.session_of is None:
                    revoked = record
        if revoked is None:
            raise UnknownToken(f"no token named {name!r}")
        return revoked

    async def open_session(self, record: TokenRecord, seconds: float = SESSION_S) -> str:
        """A session token with ``record``'s role (and drone), ending in ``seconds``."""
        started = datetime.now(UTC)
        token = new_token()
        session = TokenRecord(
            name=record.name,
            role=record.role,
            created_at=_iso(started),
            created_by=record.name,
            drone_id=record.drone_id,
            session_of=record.name,
            expires_at=_iso(started + timedelta(seconds=seconds)),
        )
        await self.kv.create(token_hash(token), _encode(session))
        return token

    async def close_session(self, token: str) -> bool:
        """End a session (a logout); an API token is never revoked this way."""
        record = await self.lookup(token)
        if record is None or record.session_of is None:
            return False
        await self._purge(token_hash(token))
        return True

    async def _purge(self, key: str) -> None:
        await self.kv.purge(key)
        self._cache.pop(key, None)

    async def lookup(self, token: str) -> TokenRecord | None:
        """The record of a presented token, ``None`` when it is unknown or revoked."""
        key = token_hash(token)
        now = self.clock()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return None if cached[1] is None or expired(cached[1]) else cached[1]
        try:
            entry = await self.kv.get(key)
            record = _decode(entry.value) if entry.value else None
        except KeyNotFoundError:
            record = None
        except msgspec.DecodeError:
            log.error("token record %s… is corrupt; refusing it", key[:12])
            record = None
        self._cache[key] = (now + self.cache_s, record)
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_ENTRIES:
            self._cache.popitem(last=False)
        return None if record is None or expired(record) else record

    async def _all(self) -> list[tuple[str, TokenRecord]]:
        try:
            keys = await self.kv.keys()
        except NoKeysError:
            return []
        found = []
        for key in keys:
            try:
                entry = await self.kv.get(key)
            except KeyNotFoundError:
                continue
            if entry.value:
                record: TokenRecord = _decode(entry.value)
                if expired(record):  # an ended session: nothing to keep
                    await self._purge(key)
                    continue
                found.append((key, record))
        return found
