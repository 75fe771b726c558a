"""Settings of the HTTP controls (rate limit, TLS), the TLS context and the rate-limit key."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from peaceland.config import load_settings
from peaceland.contract import ConfigError
from peaceland.web.limits import LIMITER_KEY, RateLimit, add_rate_limits, client_key
from peaceland.web.server import tls_context


def test_rate_limit_defaults_and_environment(tmp_path: Path) -> None:
    defaults = load_settings(environ={}, cwd=tmp_path)
    assert (defaults.rate_limit_per_s, defaults.rate_limit_burst) == (5000.0, 10_000)
    env = {"PEACELAND_RATE_LIMIT_PER_S": "12.5", "PEACELAND_RATE_LIMIT_BURST": "40"}
    settings = load_settings(environ=env, cwd=tmp_path)
    assert (settings.rate_limit_per_s, settings.rate_limit_burst) == (12.5, 40)
    off = load_settings(environ={"PEACELAND_RATE_LIMIT_PER_S": "0"}, cwd=tmp_path)
    assert off.rate_limit_per_s == 0.0


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("PEACELAND_RATE_LIMIT_PER_S", "fast"),
        ("PEACELAND_RATE_LIMIT_PER_S", "-1"),
        ("PEACELAND_RATE_LIMIT_PER_S", "inf"),
        ("PEACELAND_RATE_LIMIT_PER_S", "nan"),
        ("PEACELAND_RATE_LIMIT_BURST", "-5"),
        ("PEACELAND_RATE_LIMIT_BURST", "1.5"),
    ],
)
def test_bad_rate_limit_settings_are_config_errors(tmp_path: Path, var: str, value: str) -> None:
    with pytest.raises(ConfigError, match=var):
        load_settings(environ={var: value}, cwd=tmp_path)


def test_tls_settings_come_in_pairs(tmp_path: Path) -> None:
    both = {"PEACELAND_HTTP_TLS_CERT": "/etc/c.pem", "PEACELAND_HTTP_TLS_KEY": "/etc/k.pem"}
    settings = load_settings(environ=both, cwd=tmp_path)
    assert (settings.http_tls_cert, settings.http_tls_key) == (
        Path("/etc/c.pem"),
        Path("/etc/k.pem"),
    )
    assert load_settings(environ={}, cwd=tmp_path).http_tls_cert is None
    for var in both:
        with pytest.raises(ConfigError, match="set both or neither"):
            load_settings(environ={var: both[var]}, cwd=tmp_path)
    (tmp_path / "peaceland.toml").write_text('http_tls_cert = "/etc/c.pem"\n')
    with pytest.raises(ConfigError, match="set both or neither"):
        load_settings(environ={}, cwd=tmp_path)


def test_tls_context_from_pem_files(tmp_path: Path) -> None:
    cert = trustme.CA().issue_cert("127.0.0.1")
    chain, key = tmp_path / "chain.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(chain))
    cert.private_key_pem.write_to_path(str(key))
    context = tls_context(chain, key)
    assert context is not None
    assert context.minimum_version.name == "TLSv1_2"
    assert tls_context(None, None) is None
    with pytest.raises(ConfigError, match="set both or neither"):
        tls_context(chain, None)
    with pytest.raises(ConfigError, match="cannot load the TLS certificate"):
        tls_context(tmp_path / "missing.pem", key)
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="cannot load the TLS certificate"):
        tls_context(tmp_path / "junk.pem", tmp_path / "junk.pem")


def test_client_key_is_the_hashed_credential_else_the_address() -> None:
    def key(headers: dict[str, str]) -> str:
        return client_key(make_mocked_request("GET", "/api/v1/alerts", headers=headers))

    alice = key({"Authorization": "Bearer tok-alice"})
    assert alice == key({"Authorization": "bearer   tok-alice "})
    assert alice != key({"Authorization": "Bearer tok-bob"})
    assert "tok-alice" not in alice
    assert alice.startswith("auth:")
    assert key({"Authorization": "Basic dXNlcjpwdw=="}).startswith("auth:")
    assert key({}).startswith("addr:")


def test_disabled_rate_limit_adds_no_middleware() -> None:
    for limit in (None, RateLimit(0, 100), RateLimit(100, 0)):
        app = web.Application()
        add_rate_limits(app, limit)
        assert LIMITER_KEY not in app
        assert len(app.middlewares) == 0
    app = web.Application()
    add_rate_limits(app, RateLimit(100, 10))
    assert app[LIMITER_KEY].burst == 10
    assert len(app.middlewares) == 1
