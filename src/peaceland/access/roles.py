"""Who may call what over HTTP: roles, their permissions, API tokens. Pure.

Roles (each a bearer token's role):

* ``drone``      may only ingest: ``POST /api/v1/reports``
* ``viewer``     reads alerts, incidents, statistics, the fleet
* ``dispatcher`` viewer + acknowledges and resolves incidents
* ``admin``      everything: + ingest, tokens, the audit log, ad-hoc SQL

Every ``/api/v1/*`` route needs a token; ``ROUTES`` maps each (method, route) to the
permission it needs, and a route missing from it needs ``ADMIN`` (deny by default).

Tokens are 256-bit random strings shown once; only their SHA-256 is stored. A fast hash is
right for them: unlike passwords they cannot be guessed, so a slow hash would add nothing.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from collections.abc import Mapping
from typing import Final

import msgspec


class Role(enum.StrEnum):
    DRONE = "drone"
    VIEWER = "viewer"
    DISPATCHER = "dispatcher"
    ADMIN = "admin"


class Permission(enum.StrEnum):
    INGEST = "ingest"
    READ = "read"
    DISPATCH = "dispatch"
    ADMIN = "admin"
    #: Any valid token (e.g. the API description, logging out).
    AUTHENTICATED = "authenticated"
    #: No token needed (``/healthz``, the login itself).
    PUBLIC = "public"


ROLE_PERMISSIONS: Final[Mapping[Role, frozenset[Permission]]] = {
    Role.DRONE: frozenset({Permission.INGEST}),
    Role.VIEWER: frozenset({Permission.READ}),
    Role.DISPATCHER: frozenset({Permission.READ, Permission.DISPATCH}),
    Role.ADMIN: frozenset(
        {Permission.INGEST, Permission.READ, Permission.DISPATCH, Permission.ADMIN}
    ),
}

API_PREFIX: Final = "/api/v1/"

#: (method, route as registered) → permission. Routes outside ``/api/v1/`` are public.
ROUTES: Final[Mapping[tuple[str, str], Permission]] = {
    ("POST", "/api/v1/reports"): Permission.INGEST,
    ("GET", "/api/v1/alerts"): Permission.READ,
    ("GET", "/api/v1/alerts/stream"): Permission.READ,
    ("GET", "/api/v1/incidents"): Permission.READ,
    ("GET", "/api/v1/incidents/{incident_id}"): Permission.READ,
    ("POST", "/api/v1/incidents/{incident_id}/ack"): Permission.DISPATCH,
    ("POST", "/api/v1/incidents/{incident_id}/resolve"): Permission.DISPATCH,
    ("GET", "/api/v1/stats"): Permission.READ,
    ("GET", "/api/v1/stats/{name}"): Permission.READ,
    ("GET", "/api/v1/drones/active"): Permission.READ,
    ("GET", "/api/v1/config"): Permission.READ,
    ("GET", "/api/v1/openapi.json"): Permission.AUTHENTICATED,
    ("POST", "/api/v1/sql"): Permission.ADMIN,
    ("GET", "/api/v1/tokens"): Permission.ADMIN,
    ("POST", "/api/v1/tokens"): Permission.ADMIN,
    ("DELETE", "/api/v1/tokens/{name}"): Permission.ADMIN,
    ("GET", "/api/v1/audit"): Permission.ADMIN,
    ("GET", "/api/v1/session"): Permission.AUTHENTICATED,
    ("POST", "/api/v1/session"): Permission.PUBLIC,
    ("DELETE", "/api/v1/session"): Permission.PUBLIC,
}

TOKEN_PREFIX: Final = "plt_"
TOKEN_NAME_RE: Final = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}\Z")
TOKEN_NAME_RULE: Final = "1-64 of A-Z a-z 0-9 _ . @ -, starting with a letter or digit"


def required_permission(method: str, route: str | None, path: str) -> Permission:
    """What a request needs. ``route``: the matched route's pattern (``None``: no match)."""
    if not path.startswith(API_PREFIX):
        return Permission.PUBLIC
    method = "GET" if method == "HEAD" else method
    if route is None:
        return Permission.AUTHENTICATED  # a 404 / 405 is told to authenticated callers only
    return ROUTES.get((method, route), Permission.ADMIN)


def allows(role: Role, permission: Permission) -> bool:
    if permission in (Permission.PUBLIC, Permission.AUTHENTICATED):
        return True
    return permission in ROLE_PERMISSIONS[role]


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {text!r}; known: {known}") from None


def valid_token_name(name: str) -> bool:
    return TOKEN_NAME_RE.match(name) is not None


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The token's key in the store: SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else ``None``."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 200:
        return None
    return value


class TokenRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What is stored for a token (under its hash): never the token itself."""

    name: str
    role: Role
    created_at: str
    created_by: str
    #: A drone token bound to one drone: it may only send that drone's reports.
    drone_id: str | None = None
    #: A dashboard session: the token it was opened with, and when it ends (RFC 3339, UTC).
    session_of: str | None = None
    expires_at: str | None = None


class Caller(msgspec.Struct, frozen=True):
    """Who made a request, for handlers and the audit log."""

    name: str
    role: Role
    drone_id: str | None = None
