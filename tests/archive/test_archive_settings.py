"""Archive settings: flush limits from the environment or peaceland.toml; archiver options."""

from __future__ import annotations

from pathlib import Path

import pytest

from peaceland.archive import ArchiverOptions, FlushPolicy
from peaceland.archive.archiver import consumer_spec
from peaceland.config import load_settings
from peaceland.contract import ConfigError


def test_flush_limits_default_to_the_policy_defaults(tmp_path: Path) -> None:
    settings = load_settings(environ={}, cwd=tmp_path)
    policy = FlushPolicy()
    assert (settings.archive_max_rows, settings.archive_max_bytes) == (
        policy.max_rows,
        policy.max_bytes,
    )
    assert settings.archive_max_age_s == policy.max_age_s == 10.0


def test_flush_limits_from_environment_and_toml(tmp_path: Path) -> None:
    (tmp_path / "peaceland.toml").write_text("archive_max_rows = 5000\narchive_max_age_s = 2.5\n")
    env = {"PEACELAND_ARCHIVE_MAX_BYTES": "1048576", "PEACELAND_ARCHIVE_MAX_AGE": "4"}
    settings = load_settings(environ=env, cwd=tmp_path)
    assert (settings.archive_max_rows, settings.archive_max_bytes) == (5000, 1048576)
    assert settings.archive_max_age_s == 4.0  # the environment wins


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("PEACELAND_ARCHIVE_MAX_ROWS", "0", "at least 1"),
        ("PEACELAND_ARCHIVE_MAX_ROWS", "many", "not an integer"),
        ("PEACELAND_ARCHIVE_MAX_AGE", "-1", "positive number of seconds"),
        ("PEACELAND_ARCHIVE_MAX_AGE", "inf", "positive number of seconds"),
        ("PEACELAND_ARCHIVE_MAX_AGE", "soon", "not a number of seconds"),
    ],
)
def test_bad_flush_limits_are_one_line_errors(
    tmp_path: Path, var: str, value: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={var: value}, cwd=tmp_path)


def test_archiver_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="exactly one kind"):
        ArchiverOptions(filter_subject="peaceland.reports.x")
    with pytest.raises(ConfigError, match="kinds must be among"):
        ArchiverOptions(kinds=())
    assert ArchiverOptions(kinds=("alerts",), filter_subject="peaceland.alerts.x")


def test_the_archiver_consumer_never_gives_up_on_a_message() -> None:
    spec = consumer_spec("reports")
    assert (spec.stream, spec.durable, spec.max_deliver) == ("REPORTS", "archiver", -1)
    assert spec.max_ack_pending >= 2 * FlushPolicy().max_rows
    assert consumer_spec("deadletter", durable="x").stream == "DEADLETTER"
