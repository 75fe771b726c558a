"""Settings: one typed object, read once at the entry point.

Precedence, highest first: CLI options, ``PEACELAND_*`` environment variables, then
``peaceland.toml`` (in the working directory, or the file named by ``PEACELAND_CONFIG``),
then defaults. When ``nats_url`` / ``s3_endpoint`` are set, those external servers are used
and nothing is started for them; otherwise the endpoints come from ``<data_dir>/services.json``
written by ``peaceland up`` (``config/endpoints.py``).

Each field of ``Settings`` is declared once, with its variable and its parser
(``setting(env, parse, default)``): the environment, the file and the options all read that
one table, and mypy checks each parser against its field's type.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, TypeVar, overload

from peaceland.config import parsing
from peaceland.config.parsing import Parser
from peaceland.config.secret import Secret, secret
from peaceland.contract import ConfigError

T = TypeVar("T")

DEFAULT_DATA_DIR = Path(".peaceland")
DEFAULT_BUCKET = "peaceland"
DEFAULT_ALERT_THRESHOLD = 20
DEFAULT_HTTP_PORT = 8080
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
# Requests per second and burst per client on /api/v1/* (docs/operations.md, "HTTP controls").
DEFAULT_RATE_LIMIT_PER_S = 5000.0
DEFAULT_RATE_LIMIT_BURST = 10_000
# Archive flushes: a batch is written at this many rows or payload bytes, or at this age
# (seconds), whichever comes first; a report is queryable within about 12 s.
DEFAULT_ARCHIVE_MAX_ROWS = 100_000
DEFAULT_ARCHIVE_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_ARCHIVE_MAX_AGE_S = 10.0
# Compaction (`peaceland compactor`, `peaceland archive compact`): merge the small objects of
# hours closed for this many seconds (the lateness window) into objects of about this size;
# delete what was merged this many seconds after; the compactor runs a pass this often.
DEFAULT_COMPACT_TARGET_BYTES = 128 * 1024 * 1024
DEFAULT_COMPACT_GRACE_S = 600.0
DEFAULT_COMPACT_INTERVAL_S = 60.0
DEFAULT_COMPACT_DELETE_AFTER_S = 15 * 60.0

#: The file named here is read instead of ``./peaceland.toml``.
CONFIG_ENV: Final = "PEACELAND_CONFIG"
CONFIG_FILE: Final = "peaceland.toml"

_PORT = parsing.integer(0, 65535, "port must be within 0..65535")
_AT_LEAST_1 = parsing.integer(1, None, "must be at least 1")
_SECONDS = parsing.seconds(zero_ok=True)
_POSITIVE_SECONDS = parsing.seconds(zero_ok=False)


@dataclasses.dataclass(frozen=True, slots=True)
class SettingField:
    """One row of the table: a field of ``Settings``, its variable and its parser."""

    name: str
    env: str
    parse: Parser[Any]


@overload
def setting(env: str, parse: Parser[T], default: T) -> T: ...
@overload
def setting(env: str, parse: Parser[T]) -> T | None: ...
def setting(env: str, parse: Parser[T], default: T | None = None) -> T | None:
    """A field of ``Settings`` read from ``env`` (and ``peaceland.toml``) with ``parse``."""
    return dataclasses.field(default=default, metadata={"env": env, "parse": parse})


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = setting("PEACELAND_DATA_DIR", parsing.path, DEFAULT_DATA_DIR)
    nats_url: str | None = setting("PEACELAND_NATS_URL", parsing.text)
    #: With an external ``nats_url``: the credentials drones' publishers use (default: nats_url).
    drone_nats_url: str | None = setting("PEACELAND_DRONE_NATS_URL", parsing.text)
    s3_endpoint: str | None = setting("PEACELAND_S3_ENDPOINT", parsing.text)
    s3_bucket: str = setting("PEACELAND_S3_BUCKET", parsing.text, DEFAULT_BUCKET)
    s3_access_key: str | None = setting("PEACELAND_S3_ACCESS_KEY", parsing.text)
    s3_secret_key: Secret | None = setting("PEACELAND_S3_SECRET_KEY", secret)
    alert_threshold: int = setting(
        "PEACELAND_ALERT_THRESHOLD",
        parsing.integer(0, 101, "alert threshold must be within 0..101"),
        DEFAULT_ALERT_THRESHOLD,
    )
    http_host: str = setting("PEACELAND_HTTP_HOST", parsing.text, "127.0.0.1")
    http_port: int = setting("PEACELAND_HTTP_PORT", _PORT, DEFAULT_HTTP_PORT)
    max_body_bytes: int = setting(
        "PEACELAND_MAX_BODY_BYTES",
        parsing.integer(65536, None, "body limit must be at least 65536 bytes"),
        DEFAULT_MAX_BODY_BYTES,
    )
    log_level: str = setting("PEACELAND_LOG_LEVEL", parsing.text, "INFO")
    #: ``text``, or ``json`` for one JSON object per line (log shippers).
    log_format: str = setting("PEACELAND_LOG_FORMAT", parsing.text, "text")
    #: Where the alerter, archiver and webhooks serve /metrics; None: not served.
    metrics_port: int | None = setting("PEACELAND_METRICS_PORT", _PORT)
    archive_max_rows: int = setting(
        "PEACELAND_ARCHIVE_MAX_ROWS", _AT_LEAST_1, DEFAULT_ARCHIVE_MAX_ROWS
    )
    archive_max_bytes: int = setting(
        "PEACELAND_ARCHIVE_MAX_BYTES", _AT_LEAST_1, DEFAULT_ARCHIVE_MAX_BYTES
    )
    archive_max_age_s: float = setting(
        "PEACELAND_ARCHIVE_MAX_AGE", _POSITIVE_SECONDS, DEFAULT_ARCHIVE_MAX_AGE_S
    )
    compact_target_bytes: int = setting(
        "PEACELAND_COMPACT_TARGET_BYTES", _AT_LEAST_1, DEFAULT_COMPACT_TARGET_BYTES
    )
    compact_grace_s: float = setting("PEACELAND_COMPACT_GRACE", _SECONDS, DEFAULT_COMPACT_GRACE_S)
    compact_delete_after_s: float = setting(
        "PEACELAND_COMPACT_DELETE_AFTER", _SECONDS, DEFAULT_COMPACT_DELETE_AFTER_S
    )
    compact_interval_s: float = setting(
        "PEACELAND_COMPACT_INTERVAL", _POSITIVE_SECONDS, DEFAULT_COMPACT_INTERVAL_S
    )
    #: Endpoints that receive every alert as signed JSON (``peaceland webhooks``).
    webhook_urls: tuple[str, ...] = setting("PEACELAND_WEBHOOK_URLS", parsing.webhook_urls, ())
    #: Key of the ``Peaceland-Signature`` HMAC-SHA256 header of webhook deliveries.
    webhook_secret: Secret | None = setting("PEACELAND_WEBHOOK_SECRET", secret)
    #: Map tiles for the dashboard, e.g. ``https://tiles.example/{z}/{x}/{y}.png``; without it
    #: the map shows the country outlines shipped with the product (works offline).
    map_tiles_url: str | None = setting("PEACELAND_MAP_TILES_URL", parsing.tiles_url)
    #: Token bucket per client on /api/v1/*; 0 in either switches the limit off.
    rate_limit_per_s: float = setting(
        "PEACELAND_RATE_LIMIT_PER_S", parsing.rate, DEFAULT_RATE_LIMIT_PER_S
    )
    rate_limit_burst: int = setting(
        "PEACELAND_RATE_LIMIT_BURST",
        parsing.integer(0, None, "must be 0 (no limit) or more"),
        DEFAULT_RATE_LIMIT_BURST,
    )
    #: PEM certificate chain and private key: the gateway serves HTTPS (both or neither).
    http_tls_cert: Path | None = setting("PEACELAND_HTTP_TLS_CERT", parsing.path)
    http_tls_key: Path | None = setting("PEACELAND_HTTP_TLS_KEY", parsing.path)
    #: The embedded nats-server's certificate and key: clients must then use TLS (both or
    #: neither); ``nats_tls_ca``: the authority clients trust for NATS (else the system's).
    nats_tls_cert: Path | None = setting("PEACELAND_NATS_TLS_CERT", parsing.path)
    nats_tls_key: Path | None = setting("PEACELAND_NATS_TLS_KEY", parsing.path)
    nats_tls_ca: Path | None = setting("PEACELAND_NATS_TLS_CA", parsing.path)


#: The table, in field order, derived from ``Settings`` itself.
SETTING_FIELDS: Final[tuple[SettingField, ...]] = tuple(
    SettingField(f.name, f.metadata["env"], f.metadata["parse"])
    for f in dataclasses.fields(Settings)
)
_BY_NAME: Final = {f.name: f for f in SETTING_FIELDS}
#: Settings that only make sense together: set both or neither.
_PAIRS: Final = (
    ("http_tls_cert", "http_tls_key", "HTTPS"),
    ("nats_tls_cert", "nats_tls_key", "TLS for the embedded NATS"),
)


def load_settings(
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    **overrides: Any,
) -> Settings:
    """Build settings from defaults, ``peaceland.toml``, the environment, then ``overrides``.

    ``overrides`` with value ``None`` are ignored, so CLI options can be passed straight in.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    toml_path = _config_file(env, cwd or Path.cwd())
    if toml_path is not None:
        try:
            table = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {toml_path}: {exc}") from None
        for key, raw in table.items():
            if key not in _BY_NAME:
                raise ConfigError(f"{toml_path}: unknown setting {key!r}")
            values[key] = _BY_NAME[key].parse(raw, f"{toml_path}: {key}")
    for field in SETTING_FIELDS:
        if env.get(field.env):
            values[field.name] = field.parse(env[field.env], field.env)
    for name, raw in overrides.items():
        if name not in _BY_NAME:
            raise TypeError(f"load_settings() got an unknown setting {name!r}")
        if raw is not None:
            values[name] = _BY_NAME[name].parse(raw, f"--{name.replace('_', '-')}")
    for first, second, what in _PAIRS:
        if (first in values) != (second in values):
            raise ConfigError(
                f"{what} needs both {_BY_NAME[first].env} and {_BY_NAME[second].env} "
                f"({first} / {second}): set both or neither"
            )
    return Settings(**values)


def _config_file(env: Mapping[str, str], cwd: Path) -> Path | None:
    if CONFIG_ENV in env:
        return Path(env[CONFIG_ENV])
    local = cwd / CONFIG_FILE
    return local if local.is_file() else None
