"""Settings: one typed object read from ``PEACELAND_*`` and ``peaceland.toml`` at the entry
point, and the endpoints of the running servers (``services.json``).

Every ``PEACELAND_*`` variable is read here, nowhere else.
"""

from __future__ import annotations

from peaceland.config.endpoints import (
    S3_CREDENTIALS_REQUIRED,
    Endpoints,
    S3Endpoints,
    S3Location,
    resolve_endpoints,
    resolve_s3_endpoints,
)
from peaceland.config.secret import Secret
from peaceland.config.services_state import (
    NodeState,
    ServicesState,
    read_services_state,
    services_path,
    write_services_state,
)
from peaceland.config.settings import (
    DEFAULT_ALERT_THRESHOLD,
    DEFAULT_ARCHIVE_MAX_AGE_S,
    DEFAULT_ARCHIVE_MAX_BYTES,
    DEFAULT_ARCHIVE_MAX_ROWS,
    DEFAULT_COMPACT_DELETE_AFTER_S,
    DEFAULT_COMPACT_GRACE_S,
    DEFAULT_COMPACT_INTERVAL_S,
    DEFAULT_COMPACT_TARGET_BYTES,
    SETTING_FIELDS,
    SettingField,
    Settings,
    load_settings,
)

__all__ = [
    "DEFAULT_ALERT_THRESHOLD",
    "DEFAULT_ARCHIVE_MAX_AGE_S",
    "DEFAULT_ARCHIVE_MAX_BYTES",
    "DEFAULT_ARCHIVE_MAX_ROWS",
    "DEFAULT_COMPACT_DELETE_AFTER_S",
    "DEFAULT_COMPACT_GRACE_S",
    "DEFAULT_COMPACT_INTERVAL_S",
    "DEFAULT_COMPACT_TARGET_BYTES",
    "S3_CREDENTIALS_REQUIRED",
    "SETTING_FIELDS",
    "Endpoints",
    "NodeState",
    "S3Endpoints",
    "S3Location",
    "Secret",
    "ServicesState",
    "SettingField",
    "Settings",
    "load_settings",
    "read_services_state",
    "resolve_endpoints",
    "resolve_s3_endpoints",
    "services_path",
    "write_services_state",
]
