"""Settings precedence, validation, secrets and the services.json state file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from peaceland.config import (
    Secret,
    ServicesState,
    load_settings,
    read_services_state,
    resolve_endpoints,
    services_path,
    write_services_state,
)
from peaceland.contract import ConfigError, NotRunningError


def test_defaults_without_environment_or_file(tmp_path: Path) -> None:
    settings = load_settings(environ={}, cwd=tmp_path)
    assert settings.data_dir == Path(".peaceland")
    assert settings.alert_threshold == 20
    assert settings.http_port == 8080
    assert settings.s3_bucket == "peaceland"
    assert settings.nats_url is None


def test_environment_beats_file_and_overrides_beat_both(tmp_path: Path) -> None:
    (tmp_path / "peaceland.toml").write_text('alert_threshold = 15\ns3_bucket = "from-file"\n')
    env = {"PEACELAND_ALERT_THRESHOLD": "12"}
    settings = load_settings(environ=env, cwd=tmp_path)
    assert settings.alert_threshold == 12
    assert settings.s3_bucket == "from-file"
    overridden = load_settings(environ=env, cwd=tmp_path, alert_threshold=9, http_port=None)
    assert overridden.alert_threshold == 9
    assert overridden.http_port == 8080


def test_config_file_named_by_environment(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text("http_port = 9090\n")
    assert load_settings(environ={"PEACELAND_CONFIG": str(path)}, cwd=tmp_path).http_port == 9090


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"PEACELAND_ALERT_THRESHOLD": "abc"},
            "'abc' is not an integer",
        ),
        ({"PEACELAND_ALERT_THRESHOLD": "200"}, "alert threshold must be within 0..101"),
        ({"PEACELAND_HTTP_PORT": "70000"}, "port must be within 0..65535"),
        ({"PEACELAND_MAX_BODY_BYTES": "10"}, "body limit must be at least 65536 bytes"),
    ],
)
def test_bad_values_are_one_clear_error(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=env, cwd=tmp_path)


def test_unknown_or_broken_file_settings_are_errors(tmp_path: Path) -> None:
    (tmp_path / "peaceland.toml").write_text("alert_treshold = 15\n")
    with pytest.raises(ConfigError, match="unknown setting 'alert_treshold'"):
        load_settings(environ={}, cwd=tmp_path)
    (tmp_path / "peaceland.toml").write_text("alert_threshold = \n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(environ={}, cwd=tmp_path)


def test_secrets_never_show_themselves() -> None:
    secret = Secret("s3cr3t-value-long")
    assert "s3cr3t" not in repr(secret)
    assert "s3cr3t" not in str(secret)
    assert "s3cr3t" not in f"{secret}"
    assert secret.masked() == "s3cr…"
    assert secret.reveal() == "s3cr3t-value-long"
    assert secret == Secret("s3cr3t-value-long")


def state() -> ServicesState:
    return ServicesState(
        nats_url="nats://127.0.0.1:4222",
        s3_endpoint="http://127.0.0.1:8333",
        s3_bucket="peaceland",
        s3_access_key="AK",
        s3_secret_key="SK",
        pids={"nats": 1},
    )


def test_state_file_is_private_and_round_trips(tmp_path: Path) -> None:
    path = write_services_state(tmp_path, state())
    assert path == services_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_services_state(tmp_path) == state()
    path.write_text("{broken")
    with pytest.raises(ConfigError, match="corrupt"):
        read_services_state(tmp_path)


def test_endpoints_come_from_the_state_file(tmp_path: Path) -> None:
    write_services_state(tmp_path, state())
    endpoints = resolve_endpoints(load_settings(environ={}, cwd=tmp_path, data_dir=tmp_path))
    assert endpoints.nats_url == "nats://127.0.0.1:4222"
    assert endpoints.s3_access_key == "AK"
    assert endpoints.s3_secret_key.reveal() == "SK"


def test_external_servers_win_over_the_state_file(tmp_path: Path) -> None:
    write_services_state(tmp_path, state())
    env = {
        "PEACELAND_NATS_URL": "nats://cluster:4222",
        "PEACELAND_S3_ENDPOINT": "https://s3.example",
        "PEACELAND_S3_ACCESS_KEY": "EXT",
        "PEACELAND_S3_SECRET_KEY": "EXTSECRET",
        "PEACELAND_S3_BUCKET": "force-archive",
    }
    endpoints = resolve_endpoints(load_settings(environ=env, cwd=tmp_path, data_dir=tmp_path))
    assert endpoints.nats_url == "nats://cluster:4222"
    assert endpoints.s3_endpoint == "https://s3.example"
    assert endpoints.s3_bucket == "force-archive"
    assert endpoints.s3_secret_key.reveal() == "EXTSECRET"


def test_an_external_s3_without_credentials_is_refused(tmp_path: Path) -> None:
    env = {"PEACELAND_NATS_URL": "nats://cluster:4222", "PEACELAND_S3_ENDPOINT": "https://s3.x"}
    with pytest.raises(ConfigError, match="S3 credentials are required"):
        resolve_endpoints(load_settings(environ=env, cwd=tmp_path, data_dir=tmp_path))


def test_no_servers_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(NotRunningError, match="run `peaceland up`"):
        resolve_endpoints(load_settings(environ={}, cwd=tmp_path, data_dir=tmp_path))


def test_json_logs_are_one_object_per_line() -> None:
    import json
    import logging

    from peaceland.runtime.runner import JsonFormatter

    record = logging.LogRecord("peaceland.x", logging.WARNING, __file__, 1, "lag %d", (5,), None)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "peaceland.x"
    assert entry["message"] == "lag 5"
    assert entry["time"].endswith("+00:00")
