"""Access control: HTTP roles and routes (pure), API tokens, the audit log, NATS users and
their permissions, rate limits.
"""

from __future__ import annotations

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
    "SESSION_S",
    "Caller",
    "Permission",
    "RateLimiter",
    "Role",
    "TokenRecord",
    "TokenStore",
    "allows",
    "bearer_token",
    "parse_role",
    "required_permission",
]
