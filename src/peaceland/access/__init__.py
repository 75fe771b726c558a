"""Access control: HTTP roles and routes (pure), API tokens, the audit log, NATS users and
their permissions, rate limits.
"""

from __future__ import annotations

from peaceland.access.nats_users import (
    FLEET_USER,
    SERVICE_USER,
    NatsUser,
    authorization_block,
    drone_inbox_prefix,
    drone_user,
    hash_password,
    new_password,
    users_for,
    with_credentials,
)
from peaceland.access.rate_limit import DEFAULT_MAX_CLIENTS, RateLimiter
from peaceland.access.roles import (
    Caller,
    Permission,
    Role,
    TokenRecord,
    allows,
    bearer_token,
    parse_role,
    required_permission,
)
from peaceland.access.tokens import SESSION_S, TokenStore

__all__ = [
    "DEFAULT_MAX_CLIENTS",
    "FLEET_USER",
    "SERVICE_USER",
    "SESSION_S",
    "Caller",
    "NatsUser",
    "Permission",
    "RateLimiter",
    "Role",
    "TokenRecord",
    "TokenStore",
    "allows",
    "authorization_block",
    "bearer_token",
    "drone_inbox_prefix",
    "drone_user",
    "hash_password",
    "new_password",
    "parse_role",
    "required_permission",
    "users_for",
    "with_credentials",
]
