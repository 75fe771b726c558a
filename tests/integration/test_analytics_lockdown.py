"""``connect(locked=True)`` on a real SeaweedFS archive: the views answer, everything reaching
outside the archive (local files, URLs, extensions, settings) is refused by DuckDB itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from analytics_data import HOURS, Known, write_known
from peaceland.analytics import TimeRange, archive_from, connect
from peaceland.analytics.catalog import Archive

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def known(stack: Any) -> Known:
    return asyncio.run(write_known(stack.endpoints))


@pytest.fixture(scope="module")
def archive(stack: Any, known: Known) -> Archive:
    return archive_from(stack.endpoints, known.prefix)


@pytest.fixture
def locked(archive: Archive) -> Any:
    con = connect(archive, locked=True)
    yield con
    con.close()


def count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def test_locked_views_answer_as_unlocked_ones(locked: Any, known: Known) -> None:
    assert count(locked, "SELECT count(*) FROM reports") == len(known.reports)
    assert count(locked, "SELECT count(*) FROM sightings") == len(known.sightings())
    assert count(locked, "SELECT count(*) FROM alerts") == len(known.alerts)
    # Views are re-listed on S3 at each query: still allowed after the lock.
    assert count(locked, "SELECT count(DISTINCT drone_id) FROM reports") == len(
        {r["drone_id"] for r in known.reports}
    )
    setting = "SELECT current_setting('lock_configuration')"
    assert locked.execute(setting).fetchone() == (True,)


def test_locked_views_with_a_time_range(archive: Archive, known: Known) -> None:
    time_range = TimeRange(HOURS[3], HOURS[6])
    con = connect(archive, since=time_range.since, until=time_range.until, locked=True)
    try:
        expected = sum(1 for r in known.reports if HOURS[3] <= r["ts"] < HOURS[6])
        assert count(con, "SELECT count(*) FROM reports") == expected
    finally:
        con.close()


def _refusals(tmp: Path, bucket: str) -> list[tuple[str, str]]:
    return [
        # Local files, read or written.
        ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled"),
        ("SELECT * FROM read_text('/etc/hostname')", "file system operations are disabled"),
        ("SELECT * FROM read_blob('/etc/hostname')", "file system operations are disabled"),
        ("SELECT * FROM glob('/etc/*')", "file system operations are disabled"),
        (f"COPY (SELECT 42) TO '{tmp}/out.csv'", "file system operations are disabled"),
        (f"ATTACH '{tmp}/other.duckdb' AS other", "file system operations are disabled"),
        (f"EXPORT DATABASE '{tmp}/export'", "file system operations are disabled"),
        # Other URLs, and the bucket outside the archive's prefix.
        (
            "SELECT * FROM read_parquet('https://example.invalid/x.parquet')",
            "file system operations are disabled",
        ),
        (
            f"SELECT * FROM read_parquet('s3://{bucket}/elsewhere/*.parquet')",
            "file system operations are disabled",
        ),
        # Extensions.
        ("INSTALL spatial", "file system operations are disabled"),
        ("LOAD spatial", "Loading external extensions is disabled"),
        (f"LOAD '{tmp}/evil.duckdb_extension'", "Loading external extensions is disabled"),
        # Secrets: none stored on disk, none shown.
        (
            "CREATE PERSISTENT SECRET kept (TYPE s3, KEY_ID 'k', SECRET 's')",
            "file system operations are disabled",
        ),
        ("SELECT * FROM duckdb_secrets(redact = false)", "unredacted secrets is disabled"),
        # Configuration: nothing can be changed back.
        ("SET threads = 1", "the configuration has been locked"),
        ("RESET threads", "the configuration has been locked"),
        ("SET TimeZone = 'Europe/Paris'", "the configuration has been locked"),
        ("SET enable_external_access = true", "the configuration has been locked"),
        ("SET GLOBAL enable_external_access = true", "the configuration has been locked"),
        ("SET allowed_directories = ['/']", "the configuration has been locked"),
        ("SET lock_configuration = false", "the configuration has been locked"),
        ("SET autoinstall_known_extensions = true", "the configuration has been locked"),
        ("SET autoload_known_extensions = true", "the configuration has been locked"),
        ("SET allow_community_extensions = true", "the configuration has been locked"),
        ("SET python_enable_replacements = true", "the configuration has been locked"),
        ("PRAGMA profiling_output = '/tmp/profile.json'", "the configuration has been locked"),
    ]


def test_locked_connection_refuses_everything_outside_the_archive(
    locked: Any, archive: Archive, tmp_path: Path
) -> None:
    for sql, message in _refusals(tmp_path, archive.endpoints.s3_bucket):
        with pytest.raises(duckdb.Error, match=message):
            locked.execute(sql).fetchall()
    assert list(tmp_path.iterdir()) == []  # nothing was written
    # The connection is still usable for the views afterwards.
    assert count(locked, "SELECT count(*) FROM alerts") > 0


def test_locked_connection_does_not_scan_python_objects(locked: Any) -> None:
    hidden = pa.table({"x": [42]})
    assert hidden.num_rows == 1
    with pytest.raises(duckdb.CatalogException, match="hidden"):
        locked.execute("SELECT * FROM hidden").fetchall()


def test_unlocked_connection_reads_local_files(archive: Archive, tmp_path: Path) -> None:
    """The contrast: ``peaceland sql`` (trusted, local) keeps DuckDB's file access."""
    note = tmp_path / "note.txt"
    note.write_text("local")
    con = connect(archive)
    try:
        assert con.execute(f"SELECT content FROM read_text('{note}')").fetchone() == ("local",)
    finally:
        con.close()
