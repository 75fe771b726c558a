"""Settings: one typed object read from ``PEACELAND_*`` and ``peaceland.toml`` at the entry
point, and the endpoints of the running servers (``services.json``).
"""

from __future__ import annotations

from peaceland.config.settings import (
    DEFAULT_ALERT_THRESHOLD,
    DEFAULT_ARCHIVE_MAX_AGE_S,
    DEFAULT_ARCHIVE_MAX_BYTES,
    DEFAULT_ARCHIVE_MAX_ROWS,
    DEFAULT_COMPACT_DELETE_AFTER_S,
    DEFAULT_COMPACT_GRACE_S,
    DEFAULT_COMPACT_TARGET_BYTES,
    S3_CREDENTIALS_REQUIRED,
    Endpoints,
    Secret,
    ServicesState,
    Settings,
    load_settings,
    read_services_state,
    resolve_endpoints,
    services_path,
    write_services_state,
)

__all__ = [
    "DEFAULT_ALERT_THRESHOLD",
    "DEFAULT_ARCHIVE_MAX_AGE_S",
    "DEFAULT_ARCHIVE_MAX_BYTES",
    "DEFAULT_ARCHIVE_MAX_ROWS",
    "DEFAULT_COMPACT_DELETE_AFTER_S",
    "DEFAULT_COMPACT_GRACE_S",
    "DEFAULT_COMPACT_TARGET_BYTES",
    "S3_CREDENTIALS_REQUIRED",
    "Endpoints",
    "Secret",
    "ServicesState",
    "Settings",
    "load_settings",
    "read_services_state",
    "resolve_endpoints",
    "services_path",
    "write_services_state",
]
