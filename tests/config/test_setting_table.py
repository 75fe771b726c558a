"""The one table of settings (each field's variable and parser), and S3 without NATS."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from peaceland.config import (
    SETTING_FIELDS,
    Endpoints,
    S3Endpoints,
    Secret,
    ServicesState,
    Settings,
    load_settings,
    parsing,
    resolve_endpoints,
    resolve_s3_endpoints,
    write_services_state,
)
from peaceland.contract import ConfigError, NotRunningError

S3_ONLY = {
    "PEACELAND_S3_ENDPOINT": "https://s3.example",
    "PEACELAND_S3_ACCESS_KEY": "AK",
    "PEACELAND_S3_SECRET_KEY": "SK",
}


def test_every_field_has_one_row_and_one_variable() -> None:
    names = [f.name for f in dataclasses.fields(Settings)]
    assert [f.name for f in SETTING_FIELDS] == names
    envs = [f.env for f in SETTING_FIELDS]
    assert len(set(envs)) == len(envs)
    assert all(env == "PEACELAND_" + env.removeprefix("PEACELAND_").upper() for env in envs)
    # The documented names that do not follow the field name exactly.
    by_name = {f.name: f.env for f in SETTING_FIELDS}
    assert by_name["archive_max_age_s"] == "PEACELAND_ARCHIVE_MAX_AGE"
    assert by_name["compact_grace_s"] == "PEACELAND_COMPACT_GRACE"
    assert by_name["rate_limit_per_s"] == "PEACELAND_RATE_LIMIT_PER_S"


def test_each_variable_reaches_its_field_typed(tmp_path: Path) -> None:
    env = {
        "PEACELAND_DATA_DIR": str(tmp_path),
        "PEACELAND_METRICS_PORT": "9100",
        "PEACELAND_COMPACT_GRACE": "0",
        "PEACELAND_ARCHIVE_MAX_AGE": "2.5",
        "PEACELAND_S3_SECRET_KEY": "shh",
        "PEACELAND_WEBHOOK_URLS": "https://a.example/h, https://a.example/h,http://b.example",
        "PEACELAND_RATE_LIMIT_PER_S": "0",
        "PEACELAND_NATS_TLS_CA": "/etc/ca.pem",
    }
    settings = load_settings(environ=env, cwd=tmp_path)
    assert settings.data_dir == tmp_path
    assert settings.metrics_port == 9100
    assert settings.compact_grace_s == 0.0
    assert settings.archive_max_age_s == 2.5
    assert settings.s3_secret_key == Secret("shh")
    assert settings.webhook_urls == ("https://a.example/h", "http://b.example")
    assert settings.rate_limit_per_s == 0.0
    assert settings.nats_tls_ca == Path("/etc/ca.pem")


def test_file_values_go_through_the_same_parsers(tmp_path: Path) -> None:
    (tmp_path / "peaceland.toml").write_text(
        'webhook_urls = ["https://a.example/h"]\narchive_max_rows = 10\n'
    )
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.webhook_urls == ("https://a.example/h",)
    assert settings.archive_max_rows == 10
    (tmp_path / "peaceland.toml").write_text("archive_max_rows = 0\n")
    with pytest.raises(ConfigError, match="archive_max_rows: must be at least 1, got 0"):
        load_settings(environ={}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PEACELAND_ARCHIVE_MAX_AGE": "0"}, "must be a positive number of seconds"),
        ({"PEACELAND_COMPACT_GRACE": "-1"}, "must be 0 or a positive number of seconds"),
        ({"PEACELAND_COMPACT_DELETE_AFTER": "inf"}, "must be 0 or a positive number"),
        ({"PEACELAND_RATE_LIMIT_PER_S": "-2"}, "must be 0 \\(no limit\\) or a positive"),
        ({"PEACELAND_RATE_LIMIT_BURST": "-1"}, "must be 0 \\(no limit\\) or more"),
        ({"PEACELAND_MAP_TILES_URL": "https://t.example/{z}/{x}.png"}, "tile URL needs \\{y\\}"),
        ({"PEACELAND_WEBHOOK_URLS": "ftp://x"}, "is not an http:// or https:// URL"),
        ({"PEACELAND_HTTP_TLS_CERT": "/c.pem"}, "HTTPS needs both PEACELAND_HTTP_TLS_CERT"),
        ({"PEACELAND_NATS_TLS_KEY": "/k.pem"}, "embedded NATS needs both PEACELAND_NATS_TLS"),
    ],
)
def test_bad_values_name_their_variable(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=env, cwd=tmp_path)


def test_an_option_is_parsed_like_its_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--http-port: port must be within 0\.\.65535"):
        load_settings(environ={}, cwd=tmp_path, http_port=70000)
    with pytest.raises(TypeError, match="unknown setting 'http_prot'"):
        load_settings(environ={}, cwd=tmp_path, http_prot=1)
    assert load_settings(environ={}, cwd=tmp_path, s3_secret_key=Secret("x")).s3_secret_key == (
        Secret("x")
    )


def test_parsers_are_pure() -> None:
    assert parsing.integer(1, 3, "1..3")("2", "X") == 2
    with pytest.raises(ConfigError, match=r"X: 1\.\.3, got 4"):
        parsing.integer(1, 3, "1..3")(4, "X")
    with pytest.raises(ConfigError, match="X: expected a string"):
        parsing.text(3, "X")
    assert parsing.seconds(zero_ok=True)("0", "X") == 0.0


def test_s3_only_settings_resolve_without_nats(tmp_path: Path) -> None:
    s3 = resolve_s3_endpoints(load_settings(environ=S3_ONLY, cwd=tmp_path, data_dir=tmp_path))
    assert s3 == S3Endpoints("https://s3.example", "peaceland", "AK", Secret("SK"))
    assert not hasattr(s3, "nats_url")
    with pytest.raises(NotRunningError, match="or set PEACELAND_NATS_URL\\)"):
        resolve_endpoints(load_settings(environ=S3_ONLY, cwd=tmp_path, data_dir=tmp_path))


def test_s3_of_the_state_file_without_nats_settings(tmp_path: Path) -> None:
    state = ServicesState(
        nats_url="nats://127.0.0.1:4222",
        s3_endpoint="http://127.0.0.1:8333",
        s3_bucket="from-up",
        s3_access_key="AK",
        s3_secret_key="SK",
    )
    write_services_state(tmp_path, state)
    settings = load_settings(environ={}, cwd=tmp_path, data_dir=tmp_path)
    s3 = resolve_s3_endpoints(settings)
    assert (s3.s3_endpoint, s3.s3_bucket) == ("http://127.0.0.1:8333", "from-up")
    both = resolve_endpoints(settings)
    assert isinstance(both, Endpoints)
    assert (both.s3_endpoint, both.s3_bucket, both.s3_secret_key) == (
        s3.s3_endpoint,
        s3.s3_bucket,
        s3.s3_secret_key,
    )


def test_no_s3_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(NotRunningError, match="PEACELAND_S3_ENDPOINT"):
        resolve_s3_endpoints(load_settings(environ={}, cwd=tmp_path, data_dir=tmp_path))
