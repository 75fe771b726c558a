"""The DuckDB catalog: the contract's views over the Parquet archive on S3.

    connect(source=None, *, key_prefix="", since=None, until=None, locked=False)
        -> DuckDBPyConnection
    open_duckdb() -> DuckDBPyConnection                    connect's first half: no S3 yet
    attach_archive(con, archive, time_range, *, locked)    the second: secret, views, lock

The connection is in-memory DuckDB with the ``httpfs`` extension loaded from the installed
PyPI package ``duckdb-extension-httpfs`` (never downloaded: automatic install and load of
extensions are switched off), an S3 secret for the bucket, the session time zone set to UTC,
and three views (their SQL: ``views``):

* ``reports``   one row per report, deduplicated by ``report_id`` (the first received copy);
* ``sightings`` one row per (report, citizen);
* ``alerts``    one row per alert, deduplicated by ``alert_id``.

Duplicates exist because the archiver writes at least once (``archive.layout``);
the dedup in the view is what makes "each report exactly once" true for readers, before and
after compaction rewrites an hour into one file, and while both copies briefly coexist.

``since`` / ``until`` scope the views to event times ``since <= ts < until`` and, above all,
to the partitions of that range (``timerange.scan_plan``): only those folders are listed and
read. Without them the views cover the whole archive and a ``WHERE ts ...`` reads every file's
metadata; pass the range to ``connect`` for time-bounded work on a large archive.

``locked=True`` (for SQL that arrives over HTTP) then locks the connection down
(``lock_down``): no local files, no network but the archive's S3 prefix, no extension install
or load, no configuration change. The views keep working; everything else fails with a
``duckdb.PermissionException`` or ``duckdb.InvalidInputException``. A locked connection is
also confined (``Confinement``, set before anything is read from S3): a memory limit (1 GB by
default; each in-memory connection is its own DuckDB instance with its own limit, so N
concurrent connections may use N times as much), beyond it spilling to a private directory
of its own up to a size limit (10 GB by default; a query over both fails with
``duckdb.OutOfMemoryException``), and an ``http_timeout`` fitted to the caller's deadline
(below).

Time on a hung S3: ``con.interrupt()`` cuts neither an HTTP request in flight nor the retries
after it. A request to an S3 server that accepts the connection and never answers fails after
``http_timeout`` seconds and is tried ``1 + http_retries`` (DuckDB's 3) times, so listing or
reading a hung S3 takes about ``4 * http_timeout`` (plus under a second of back-off) before
DuckDB raises ``IOException: ... Timeout was reached``. ``http_timeout`` bounds each whole
request, a large Parquet read included, so it is not divided among the tries: work with a
deadline of T seconds uses ``Confinement.within(T)`` (``http_timeout = ceil(T)``, 1 to 30 s)
and a hung S3 holds it for about ``4 * T`` (2 minutes at most). To put a deadline on the S3
listing as well, open the connection with ``open_duckdb``, start the deadline on it, then
``attach_archive`` (as ``web.sql_api`` does).

A kind with no file yet (a fresh archive) gets an empty view of the same columns and types.
Views over globs are re-listed at each query, so new objects show up in a long-lived
connection; a view that was empty at connect time stays empty until the next ``connect``.
"""

from __future__ import annotations

import atexit
import dataclasses
import functools
import importlib.resources
import math
import shutil
import tempfile
import uuid
from datetime import datetime
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import duckdb

from peaceland.config import S3Location, Settings, load_settings, resolve_s3_endpoints
from peaceland.contract import ConfigError, StoreError

from .timerange import TimeRange
from .views import define_views, quote

#: The S3 region in signatures; SeaweedFS and MinIO accept any.
DEFAULT_REGION: Final = "us-east-1"


@dataclasses.dataclass(frozen=True, slots=True)
class Archive:
    """Where the archive is: a bucket on an S3 server, and the key prefix the archiver used."""

    endpoints: S3Location
    key_prefix: str = ""

    @property
    def root(self) -> str:
        return f"s3://{self.endpoints.s3_bucket}/{self.key_prefix}"

    @property
    def location(self) -> str:
        return f"{self.root} at {self.endpoints.s3_endpoint}"


def archive_from(
    source: Settings | S3Location | Archive | None = None, key_prefix: str = ""
) -> Archive:
    """The archive of ``source``; ``None`` reads the settings from the environment."""
    if isinstance(source, Archive):
        return dataclasses.replace(source, key_prefix=key_prefix or source.key_prefix)
    if source is None or isinstance(source, Settings):
        # Analytics reads S3 alone: an S3-only setup needs no NATS.
        return Archive(resolve_s3_endpoints(source or load_settings()), key_prefix)
    return Archive(source, key_prefix)


def httpfs_path() -> Path:
    """The ``httpfs`` extension shipped by ``duckdb-extension-httpfs`` for this ``duckdb``."""
    wanted = duckdb.__version__
    try:
        root = importlib.resources.files("duckdb_extension_httpfs")
    except ModuleNotFoundError:
        raise ConfigError(
            f"the httpfs extension is missing: pip install 'duckdb-extension-httpfs=={wanted}'"
        ) from None
    path = Path(str(root)) / "extensions" / f"v{wanted}" / "httpfs.duckdb_extension"
    if not path.is_file():
        shipped = sorted(p.name for p in (Path(str(root)) / "extensions").glob("v*"))
        raise ConfigError(
            f"duckdb {wanted} needs duckdb-extension-httpfs=={wanted}; installed: "
            f"{', '.join(shipped) or 'none'}"
        )
    return path


#: DuckDB's own ``http_timeout`` (seconds), and the most a ``Confinement`` sets.
MAX_HTTP_TIMEOUT_S: Final = 30


#: A confined connection's memory, and the spilled data it may then keep on disk.
DEFAULT_MEMORY_LIMIT: Final = "1GB"
DEFAULT_SPILL_LIMIT: Final = "10GB"


@dataclasses.dataclass(frozen=True, slots=True)
class Confinement:
    """The resource limits of a locked-down connection, set before the archive is listed.

    ``memory_limit``: DuckDB's ``memory_limit`` (``"1GB"``, ``"512MB"``...), for this
    connection's own in-memory instance. ``spill_limit``: beyond memory, DuckDB spills to a
    private directory of its own (``spill_directory``) up to this size (its
    ``max_temp_directory_size``); ``None``: no spilling, a query over the memory limit fails.
    The built-in statistics over 10 M reports need more than 1 GB: they fail without spilling
    and take 1.0-1.35x an unconfined run with it (``benchmarks/analytics.py``).
    ``http_timeout_s``: DuckDB's ``http_timeout``, the most one HTTP request to S3 may take,
    in whole seconds (1 to ``MAX_HTTP_TIMEOUT_S``).
    """

    memory_limit: str = DEFAULT_MEMORY_LIMIT
    http_timeout_s: int = MAX_HTTP_TIMEOUT_S
    spill_limit: str | None = DEFAULT_SPILL_LIMIT

    def __post_init__(self) -> None:
        if not 1 <= self.http_timeout_s <= MAX_HTTP_TIMEOUT_S:
            raise ConfigError(
                f"http_timeout_s must be 1 to {MAX_HTTP_TIMEOUT_S} s, not {self.http_timeout_s}"
            )

    @classmethod
    def within(
        cls,
        timeout_s: float,
        memory_limit: str = DEFAULT_MEMORY_LIMIT,
        spill_limit: str | None = DEFAULT_SPILL_LIMIT,
    ) -> Confinement:
        """For work stopped after ``timeout_s``: no single S3 request may outlast it."""
        seconds = math.ceil(timeout_s) if math.isfinite(timeout_s) else MAX_HTTP_TIMEOUT_S
        return cls(memory_limit, min(MAX_HTTP_TIMEOUT_S, max(1, seconds)), spill_limit)

    def settings(self, spill_to: Path) -> tuple[str, ...]:
        """The ``SET`` statements; ``spill_to``: the connection's own (not yet existing)
        spill directory, unused without a ``spill_limit``."""
        if self.spill_limit is None:
            spilling: tuple[str, ...] = ("temp_directory = ''",)
        else:
            spilling = (
                f"temp_directory = {quote(str(spill_to))}",
                f"max_temp_directory_size = {quote(self.spill_limit)}",
            )
        return (
            f"memory_limit = {quote(self.memory_limit)}",
            *spilling,
            f"http_timeout = {self.http_timeout_s}",
        )


@functools.cache
def _spill_root() -> Path:
    """This process's directory for spilled query data: private (0700), removed at exit."""
    root = Path(tempfile.mkdtemp(prefix="peaceland-duckdb-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return root


def spill_directory() -> Path:
    """A fresh path in the private spill root. DuckDB creates it on the first spill and
    removes it when the connection closes, so nothing is left behind."""
    return _spill_root() / uuid.uuid4().hex


def connect(
    source: Settings | S3Location | Archive | None = None,
    *,
    key_prefix: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    locked: bool | Confinement = False,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the views ``reports``, ``sightings`` and ``alerts``.

    ``source``: settings, endpoints or an ``Archive``; ``None`` reads ``PEACELAND_*`` and
    ``peaceland.toml`` like the CLI. ``locked``: see ``lock_down``; use it whenever the SQL
    comes from someone else; ``True`` confines with the default ``Confinement()``, or pass
    one. Raises ``StoreError`` when S3 cannot be read.
    """
    archive = archive_from(source, key_prefix)
    time_range = TimeRange(since, until)
    con = open_duckdb()
    try:
        attach_archive(con, archive, time_range, locked=locked)
    except BaseException:
        con.close()
        raise
    return con


def open_duckdb() -> duckdb.DuckDBPyConnection:
    """An in-memory connection with ``httpfs`` loaded and the session in UTC; nothing read yet.

    Extensions are never installed or loaded automatically.
    """
    con = duckdb.connect(
        ":memory:",
        config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"},
    )
    try:
        con.execute(f"LOAD {quote(str(httpfs_path()))}")
        con.execute("SET TimeZone = 'UTC'")
    except duckdb.Error as exc:
        con.close()
        raise ConfigError(f"cannot set up DuckDB with httpfs: {one_line(exc)}") from None
    except BaseException:
        con.close()
        raise
    return con


def attach_archive(
    con: duckdb.DuckDBPyConnection,
    archive: Archive,
    time_range: TimeRange | None = None,
    *,
    locked: bool | Confinement = False,
) -> None:
    """Define the views on ``con`` (from ``open_duckdb``), then lock it down if ``locked``.

    A confinement is set before the S3 listing, so its ``http_timeout`` already bounds it.
    Raises ``StoreError`` when S3 cannot be read; a ``duckdb.InterruptException`` (someone
    called ``con.interrupt()``) is raised as it is. ``con`` stays open either way.
    """
    confinement = _confinement(locked)
    if confinement is not None:
        confine(con, confinement)
    try:
        con.execute(secret_sql(archive.endpoints))
        define_views(con, archive.root, time_range or TimeRange())
        if confinement is not None:
            lock_down(con, archive)
    except duckdb.InterruptException:
        raise
    except duckdb.Error as exc:
        raise StoreError(f"cannot read the archive {archive.location}: {one_line(exc)}") from None


def _confinement(locked: bool | Confinement) -> Confinement | None:
    if isinstance(locked, Confinement):
        return locked
    return Confinement() if locked else None


def confine(con: duckdb.DuckDBPyConnection, confinement: Confinement) -> None:
    """Apply ``confinement`` to ``con``; ``lock_down`` later makes it final."""
    for setting in confinement.settings(spill_directory()):
        try:
            con.execute(f"SET {setting}")
        except duckdb.InterruptException:
            raise  # the caller's deadline, not a bad setting
        except duckdb.Error as exc:
            raise ConfigError(f"cannot set {setting}: {one_line(exc)}") from None


#: Set in this order by ``lock_down``: the allow-list must be in place before external access
#: is switched off, and nothing can change once the configuration is locked.
LOCK_DOWN_SETTINGS: Final = (
    "allow_community_extensions = false",
    "allow_unsigned_extensions = false",
    "autoinstall_known_extensions = false",
    "autoload_known_extensions = false",
    "python_enable_replacements = false",
    "enable_external_access = false",
    "lock_configuration = true",
)


def lock_down(con: duckdb.DuckDBPyConnection, archive: Archive) -> None:
    """Confine ``con`` to reading the archive, for SQL written by someone else.

    Once the views are defined (``httpfs`` loaded, the S3 secret created) and the resources
    limited (``confine``): only paths under the archive root (``s3://bucket/prefix/``) stay
    readable (``allowed_directories``); local files, other buckets and URLs, ``COPY ... TO``,
    ``ATTACH`` of a file, ``EXPORT``, ``INSTALL``, persistent secrets and ``LOAD`` of
    anything not built in are refused (``enable_external_access = false``); Python objects
    are never scanned as tables; and ``SET`` / ``RESET`` of any option fail
    (``lock_configuration``), so none of this, nor the memory limit, can be undone. What
    stays possible lives and dies with the in-memory connection: temporary tables, ``LOAD``
    of a built-in extension (a no-op) and a session-only ``CREATE SECRET``. Such a secret
    could send the reads of the allowed paths to another S3 endpoint, so code that runs SQL
    from others also accepts only queries (``web.sql_api``: one ``SELECT`` or ``EXPLAIN``).
    """
    con.execute(f"SET allowed_directories = [{quote(archive.root)}]")
    for setting in LOCK_DOWN_SETTINGS:
        con.execute(f"SET {setting}")


def secret_sql(endpoints: S3Location, name: str = "peaceland_s3") -> str:
    """``CREATE SECRET`` for the bucket: path-style URLs, SSL as the endpoint's scheme."""
    url = urlsplit(endpoints.s3_endpoint)
    if url.scheme not in ("http", "https") or not url.netloc:
        raise ConfigError(f"S3 endpoint {endpoints.s3_endpoint!r} is not an http(s):// URL")
    options = [
        "TYPE s3",
        f"ENDPOINT {quote(url.netloc)}",
        "URL_STYLE 'path'",
        f"USE_SSL {'true' if url.scheme == 'https' else 'false'}",
        f"REGION {quote(DEFAULT_REGION)}",
        f"SCOPE {quote('s3://' + endpoints.s3_bucket)}",
    ]
    if endpoints.s3_access_key:
        options.append(f"KEY_ID {quote(endpoints.s3_access_key)}")
        options.append(f"SECRET {quote(endpoints.s3_secret_key.reveal())}")
    return f"CREATE OR REPLACE SECRET {name} ({', '.join(options)})"


def one_line(exc: BaseException) -> str:
    """A DuckDB error on one line: its message, without the ``LINE 1: ... ^`` pointer."""
    lines = [line.strip() for line in str(exc).splitlines()]
    kept = [line for line in lines if line and line != "^" and not line.startswith("LINE ")]
    return " ".join(kept) or type(exc).__name__
