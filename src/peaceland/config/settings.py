"""Settings, read once at the entry point, and the ``services.json`` state file.

Precedence, highest first: ``PEACELAND_*`` environment variables, then ``peaceland.toml``
(in the working directory, or the file named by ``PEACELAND_CONFIG``), then defaults.
When ``nats_url`` / ``s3_endpoint`` are set, those external servers are used and nothing is
started for them; otherwise the endpoints come from ``<data_dir>/services.json`` written by
``peaceland up``.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from peaceland.contract import ConfigError, NotRunningError

DEFAULT_DATA_DIR = Path(".peaceland")
DEFAULT_BUCKET = "peaceland"
DEFAULT_ALERT_THRESHOLD = 20
DEFAULT_HTTP_PORT = 8080
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
# Requests per second and burst per client on /api/v1/* (docs/operations.md, "HTTP controls").
DEFAULT_RATE_LIMIT_PER_S = 5000.0
DEFAULT_RATE_LIMIT_BURST = 10_000
SERVICES_FILE = "services.json"
# Archive flushes: a batch is written at this many rows or payload bytes, or at this age
# (seconds), whichever comes first; a report is queryable within about 12 s.
DEFAULT_ARCHIVE_MAX_ROWS = 100_000
DEFAULT_ARCHIVE_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_ARCHIVE_MAX_AGE_S = 10.0
# Compaction (`peaceland archive compact`): merge the small objects of hours closed for this
# many seconds into objects of about this size; delete what was merged this many seconds after.
DEFAULT_COMPACT_TARGET_BYTES = 128 * 1024 * 1024
DEFAULT_COMPACT_GRACE_S = 2 * 3600.0
DEFAULT_COMPACT_DELETE_AFTER_S = 15 * 60.0


class Secret:
    """A string that never shows itself in logs, reprs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def masked(self) -> str:
        """The first four characters, enough to tell two secrets apart."""
        return self._value[:4] + "…" if self._value else ""

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    nats_url: str | None = None
    #: With an external ``nats_url``: the credentials drones' publishers use (default: nats_url).
    drone_nats_url: str | None = None
    s3_endpoint: str | None = None
    s3_bucket: str = DEFAULT_BUCKET
    s3_access_key: str | None = None
    s3_secret_key: Secret | None = None
    alert_threshold: int = DEFAULT_ALERT_THRESHOLD
    http_host: str = "127.0.0.1"
    http_port: int = DEFAULT_HTTP_PORT
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    log_level: str = "INFO"
    #: Where the alerter, archiver and webhooks serve /metrics; None: not served.
    metrics_port: int | None = None
    archive_max_rows: int = DEFAULT_ARCHIVE_MAX_ROWS
    archive_max_bytes: int = DEFAULT_ARCHIVE_MAX_BYTES
    archive_max_age_s: float = DEFAULT_ARCHIVE_MAX_AGE_S
    compact_target_bytes: int = DEFAULT_COMPACT_TARGET_BYTES
    compact_grace_s: float = DEFAULT_COMPACT_GRACE_S
    compact_delete_after_s: float = DEFAULT_COMPACT_DELETE_AFTER_S
    #: Endpoints that receive every alert as signed JSON (``peaceland webhooks``).
    webhook_urls: tuple[str, ...] = ()
    #: Key of the ``Peaceland-Signature`` HMAC-SHA256 header of webhook deliveries.
    webhook_secret: Secret | None = None
    #: Map tiles for the dashboard, e.g. ``https://tiles.example/{z}/{x}/{y}.png``; without it
    #: the map shows the country outlines shipped with the product (works offline).
    map_tiles_url: str | None = None
    #: Token bucket per client on /api/v1/*; 0 in either switches the limit off.
    rate_limit_per_s: float = DEFAULT_RATE_LIMIT_PER_S
    rate_limit_burst: int = DEFAULT_RATE_LIMIT_BURST
    #: PEM certificate chain and private key: the gateway serves HTTPS (both or neither).
    http_tls_cert: Path | None = None
    http_tls_key: Path | None = None
    #: The embedded nats-server's certificate and key: clients must then use TLS (both or
    #: neither); ``nats_tls_ca``: the authority clients trust for NATS (else the system's).
    nats_tls_cert: Path | None = None
    nats_tls_key: Path | None = None
    nats_tls_ca: Path | None = None


_ENV_FIELDS: dict[str, str] = {
    "PEACELAND_DATA_DIR": "data_dir",
    "PEACELAND_NATS_URL": "nats_url",
    "PEACELAND_DRONE_NATS_URL": "drone_nats_url",
    "PEACELAND_S3_ENDPOINT": "s3_endpoint",
    "PEACELAND_S3_BUCKET": "s3_bucket",
    "PEACELAND_S3_ACCESS_KEY": "s3_access_key",
    "PEACELAND_S3_SECRET_KEY": "s3_secret_key",
    "PEACELAND_ALERT_THRESHOLD": "alert_threshold",
    "PEACELAND_HTTP_HOST": "http_host",
    "PEACELAND_HTTP_PORT": "http_port",
    "PEACELAND_MAX_BODY_BYTES": "max_body_bytes",
    "PEACELAND_LOG_LEVEL": "log_level",
    "PEACELAND_METRICS_PORT": "metrics_port",
    "PEACELAND_ARCHIVE_MAX_ROWS": "archive_max_rows",
    "PEACELAND_ARCHIVE_MAX_BYTES": "archive_max_bytes",
    "PEACELAND_ARCHIVE_MAX_AGE": "archive_max_age_s",
    "PEACELAND_COMPACT_TARGET_BYTES": "compact_target_bytes",
    "PEACELAND_COMPACT_GRACE": "compact_grace_s",
    "PEACELAND_COMPACT_DELETE_AFTER": "compact_delete_after_s",
    "PEACELAND_WEBHOOK_URLS": "webhook_urls",
    "PEACELAND_WEBHOOK_SECRET": "webhook_secret",
    "PEACELAND_MAP_TILES_URL": "map_tiles_url",
    "PEACELAND_RATE_LIMIT_PER_S": "rate_limit_per_s",
    "PEACELAND_RATE_LIMIT_BURST": "rate_limit_burst",
    "PEACELAND_HTTP_TLS_CERT": "http_tls_cert",
    "PEACELAND_HTTP_TLS_KEY": "http_tls_key",
    "PEACELAND_NATS_TLS_CERT": "nats_tls_cert",
    "PEACELAND_NATS_TLS_KEY": "nats_tls_key",
    "PEACELAND_NATS_TLS_CA": "nats_tls_ca",
}
_INT_FIELDS = {
    "alert_threshold",
    "http_port",
    "metrics_port",
    "max_body_bytes",
    "archive_max_rows",
    "archive_max_bytes",
    "compact_target_bytes",
    "rate_limit_burst",
}
_POSITIVE_FIELDS = {
    "archive_max_rows",
    "archive_max_bytes",
    "archive_max_age_s",
    "compact_target_bytes",
}
_PATH_FIELDS = {
    "data_dir",
    "http_tls_cert",
    "http_tls_key",
    "nats_tls_cert",
    "nats_tls_key",
    "nats_tls_ca",
}
#: Durations in seconds; those of ``_POSITIVE_FIELDS`` must be more than 0, the others may be 0.
_SECONDS_FIELDS = {"archive_max_age_s", "compact_grace_s", "compact_delete_after_s"}


def _coerce(name: str, raw: Any, origin: str) -> Any:
    if name in _PATH_FIELDS:
        return Path(str(raw))
    if name == "rate_limit_per_s":
        try:
            rate = float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{origin}: {raw!r} is not a number of requests per second") from None
        if not 0 <= rate < float("inf"):
            raise ConfigError(f"{origin}: must be 0 (no limit) or a positive number, got {raw!r}")
        return rate
    if name in ("s3_secret_key", "webhook_secret"):
        return Secret(str(raw))
    if name == "webhook_urls":
        return _webhook_urls(raw, origin)
    if name == "map_tiles_url":
        return _tiles_url(raw, origin)
    if name in _SECONDS_FIELDS:
        try:
            seconds = float(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{origin}: {raw!r} is not a number of seconds") from None
        if name not in _POSITIVE_FIELDS and seconds == 0:
            return seconds
        if not seconds > 0 or seconds == float("inf"):
            least = "a positive" if name in _POSITIVE_FIELDS else "0 or a positive"
            raise ConfigError(f"{origin}: must be {least} number of seconds, got {raw!r}")
        return seconds
    if name in _INT_FIELDS:
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{origin}: {raw!r} is not an integer") from None
        if name == "alert_threshold" and not 0 <= value <= 101:
            raise ConfigError(f"{origin}: alert threshold must be within 0..101, got {value}")
        if name in ("http_port", "metrics_port") and not 0 <= value <= 65535:
            raise ConfigError(f"{origin}: port must be within 0..65535, got {value}")
        if name == "max_body_bytes" and value < 65536:
            raise ConfigError(f"{origin}: body limit must be at least 65536 bytes, got {value}")
        if name in _POSITIVE_FIELDS and value < 1:
            raise ConfigError(f"{origin}: must be at least 1, got {value}")
        if name == "rate_limit_burst" and value < 0:
            raise ConfigError(f"{origin}: must be 0 (no limit) or more, got {value}")
        return value
    if not isinstance(raw, str):
        raise ConfigError(f"{origin}: expected a string, got {raw!r}")
    return raw


def _webhook_urls(raw: Any, origin: str) -> tuple[str, ...]:
    """Comma-separated in the environment, a list (or that string) in ``peaceland.toml``."""
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ConfigError(f"{origin}: expected comma-separated URLs, got {raw!r}")
    urls: list[str] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        scheme, sep, rest = item.partition("://")
        if scheme.lower() not in ("http", "https") or not sep or not rest.split("/")[0]:
            raise ConfigError(f"{origin}: {item!r} is not an http:// or https:// URL")
        if item not in urls:
            urls.append(item)
    return tuple(urls)


def _tiles_url(raw: Any, origin: str) -> str:
    """An http(s) tile URL template with ``{z}``, ``{x}`` and ``{y}`` (Leaflet's syntax)."""
    url = raw.strip() if isinstance(raw, str) else ""
    scheme, sep, rest = url.partition("://")
    if scheme.lower() not in ("http", "https") or not sep or not rest.split("/")[0]:
        raise ConfigError(f"{origin}: {raw!r} is not an http:// or https:// URL")
    missing = [p for p in ("{z}", "{x}", "{y}") if p not in url]
    if missing:
        raise ConfigError(
            f"{origin}: tile URL needs {', '.join(missing)}, e.g. .../{{z}}/{{x}}/{{y}}.png"
        )
    return url


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
    toml_path = Path(env["PEACELAND_CONFIG"]) if "PEACELAND_CONFIG" in env else None
    if toml_path is None and (cwd or Path.cwd()).joinpath("peaceland.toml").is_file():
        toml_path = (cwd or Path.cwd()) / "peaceland.toml"
    if toml_path is not None:
        try:
            table = tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {toml_path}: {exc}") from None
        known = set(_ENV_FIELDS.values())
        for key, raw in table.items():
            if key not in known:
                raise ConfigError(f"{toml_path}: unknown setting {key!r}")
            values[key] = _coerce(key, raw, f"{toml_path}: {key}")
    for var, name in _ENV_FIELDS.items():
        if env.get(var):
            values[name] = _coerce(name, env[var], var)
    for name, raw in overrides.items():
        if raw is not None:
            values[name] = _coerce(name, raw, f"--{name.replace('_', '-')}")
    if ("http_tls_cert" in values) != ("http_tls_key" in values):
        raise ConfigError(
            "HTTPS needs both PEACELAND_HTTP_TLS_CERT and PEACELAND_HTTP_TLS_KEY "
            "(http_tls_cert / http_tls_key): set both or neither"
        )
    if ("nats_tls_cert" in values) != ("nats_tls_key" in values):
        raise ConfigError(
            "TLS for the embedded NATS needs both PEACELAND_NATS_TLS_CERT and "
            "PEACELAND_NATS_TLS_KEY (nats_tls_cert / nats_tls_key): set both or neither"
        )
    return Settings(**values)


class ServicesState(msgspec.Struct, kw_only=True):
    """The content of ``<data_dir>/services.json`` (mode 0600: it holds credentials)."""

    nats_url: str
    s3_endpoint: str
    s3_bucket: str
    s3_access_key: str
    s3_secret_key: str
    #: The fleet role: may only publish reports (simulator, tests, trusted relays).
    drone_nats_url: str | None = None
    mqtt_url: str | None = None
    nats_monitor_url: str | None = None
    pids: dict[str, int] = msgspec.field(default_factory=dict)
    ports: dict[str, int] = msgspec.field(default_factory=dict)


def services_path(data_dir: Path) -> Path:
    return data_dir / SERVICES_FILE


def read_services_state(data_dir: Path) -> ServicesState | None:
    path = services_path(data_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return msgspec.json.decode(raw, type=ServicesState)
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{path} is corrupt ({exc}); run `peaceland down` then `up`") from None


def write_services_state(data_dir: Path, state: ServicesState) -> Path:
    """Write atomically, created with mode 0600 so credentials are never world-readable."""
    path = services_path(data_dir)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(msgspec.json.format(msgspec.json.encode(state)))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the stream and the object store are, whichever way they were found."""

    nats_url: str
    s3_endpoint: str
    s3_bucket: str
    s3_access_key: str
    s3_secret_key: Secret
    mqtt_url: str | None = None
    #: Publishing reports only (the fleet role); ``nats_url`` when no narrower one is known.
    drone_nats_url: str = ""
    #: The authority NATS clients trust for ``tls://`` URLs (``None``: the system's).
    nats_tls_ca: Path | None = None

    @property
    def publisher_url(self) -> str:
        return self.drone_nats_url or self.nats_url


S3_CREDENTIALS_REQUIRED = (
    "S3 credentials are required: set PEACELAND_S3_ACCESS_KEY and PEACELAND_S3_SECRET_KEY "
    "(anonymous access to the archive is never used)"
)


def resolve_endpoints(settings: Settings) -> Endpoints:
    """External servers from settings win; otherwise those recorded by ``peaceland up``."""
    state = read_services_state(settings.data_dir)
    nats_url = settings.nats_url or (state.nats_url if state else None)
    s3_endpoint = settings.s3_endpoint or (state.s3_endpoint if state else None)
    if nats_url is None or s3_endpoint is None:
        raise NotRunningError(
            f"no servers running in {settings.data_dir} — run `peaceland up` "
            "(or set PEACELAND_NATS_URL and PEACELAND_S3_ENDPOINT)"
        )
    use_state_s3 = settings.s3_endpoint is None and state is not None
    access = settings.s3_access_key or (state.s3_access_key if use_state_s3 and state else "")
    secret = settings.s3_secret_key or Secret(state.s3_secret_key if use_state_s3 and state else "")
    if not access or not secret.reveal():
        raise ConfigError(S3_CREDENTIALS_REQUIRED)
    bucket = (
        state.s3_bucket
        if use_state_s3 and state and settings.s3_bucket == DEFAULT_BUCKET
        else settings.s3_bucket
    )
    return Endpoints(
        nats_url=nats_url,
        s3_endpoint=s3_endpoint,
        s3_bucket=bucket,
        s3_access_key=access,
        s3_secret_key=secret,
        mqtt_url=state.mqtt_url if state and settings.nats_url is None else None,
        drone_nats_url=(
            settings.drone_nats_url
            or (state.drone_nats_url if state and settings.nats_url is None else None)
            or ""
        ),
        nats_tls_ca=settings.nats_tls_ca,
    )
