"""``connect(locked=True)`` on a real SeaweedFS archive: the views answer, everything reaching
outside the archive (local files, URLs, extensions, settings) is refused by DuckDB itself, and
the connection's memory is limited, with no spilling to disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import duckdb
import pyarrow as pa
import pytest

from analytics_data import HOURS, Known
from analytics_fixtures import archive_fixture, known_fixture  # noqa: F401
from peaceland.analytics import Archive, Confinement, TimeRange, connect

pytestmark = pytest.mark.slow

#: Needs far more than 64 MB: 20 million distinct strings in one hash table.
SPILLS_AT_64MB: Final = "SELECT count(DISTINCT i::VARCHAR) FROM range(3000000) t(i)"


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


def setting(con: duckdb.DuckDBPyConnection, name: str) -> Any:
    row = con.execute("SELECT current_setting($name)", {"name": name}).fetchone()
    assert row is not None
    return row[0]


def test_locked_connection_is_confined_before_the_lock(locked: Any) -> None:
    # 1 GB = 10^9 bytes, which DuckDB shows in binary units.
    assert setting(locked, "memory_limit") == "953.6 MiB"
    assert Path(setting(locked, "temp_directory")).parent.name.startswith("peaceland-duckdb-")
    assert setting(locked, "max_temp_directory_size") == "9.3 GiB"
    assert setting(locked, "http_timeout") == 30


def test_over_the_memory_limit_a_query_spills_to_its_private_directory(archive: Archive) -> None:
    con = connect(archive, locked=Confinement(memory_limit="64MiB", http_timeout_s=2))
    spill = Path(setting(con, "temp_directory"))
    try:
        # Runs out of 64 MiB without spilling (next test); with it, answers.
        assert con.execute(SPILLS_AT_64MB).fetchall() == [(3_000_000,)]
    finally:
        con.close()
    assert not spill.exists()  # DuckDB removes its spill directory on close


def test_a_given_confinement_is_applied_and_stays(archive: Archive, known: Known) -> None:
    con = connect(archive, locked=Confinement("64MiB", http_timeout_s=2, spill_limit=None))
    try:
        assert setting(con, "memory_limit") == "64.0 MiB"
        assert setting(con, "temp_directory") == ""  # no spilling
        assert setting(con, "http_timeout") == 2
        assert count(con, "SELECT count(*) FROM reports") == len(known.reports)
        with pytest.raises(duckdb.OutOfMemoryException, match="Out of Memory Error"):
            con.execute(SPILLS_AT_64MB).fetchall()
        for change in ("SET memory_limit = '64GB'", "RESET memory_limit"):
            with pytest.raises(duckdb.InvalidInputException, match="configuration has been locked"):
                con.execute(change)
        assert setting(con, "memory_limit") == "64.0 MiB"
        # Still usable after running out of memory.
        assert count(con, "SELECT count(*) FROM alerts") == len(known.alerts)
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
        # Resources: no more memory, no spilling to a local directory, no longer HTTP waits.
        ("SET memory_limit = '1TB'", "the configuration has been locked"),
        ("SET GLOBAL memory_limit = '1TB'", "the configuration has been locked"),
        (f"SET temp_directory = '{tmp}'", "the configuration has been locked"),
        ("SET max_temp_directory_size = '1TB'", "the configuration has been locked"),
        ("SET http_timeout = 3600", "the configuration has been locked"),
        ("SET http_retries = 100", "the configuration has been locked"),
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
