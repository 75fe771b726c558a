"""The dashboard's own routes, without servers: the page, a clear page when its libraries are
missing, the page config, the CSP and the tile-server setting."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from peaceland.analytics import STATS
from peaceland.config import load_settings
from peaceland.contract import ConfigError
from peaceland.web.dashboard import (
    STATIC_DIR,
    VENDOR_FILES,
    add_dashboard_routes,
    content_policy,
    missing_assets,
    tiles_source,
)

TILES = "https://{s}.tiles.example:8443/osm/{z}/{x}/{y}.png"


@pytest.fixture
def static_copy(tmp_path: Path) -> Path:
    """The page with fake vendor files, so the test never depends on `make install`."""
    static = tmp_path / "static"
    shutil.copytree(STATIC_DIR, static, ignore=shutil.ignore_patterns("vendor"))
    for name in VENDOR_FILES:
        (static / name).parent.mkdir(parents=True, exist_ok=True)
        (static / name).write_text("/* vendor */")
    return static


async def serve(static: Path, tiles: str | None = None) -> AsyncIterator[tuple[str, ClientSession]]:
    app = web.Application()
    add_dashboard_routes(app, tiles, 17, static_dir=static)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    http = ClientSession()
    try:
        yield str(server.make_url("")).rstrip("/"), http
    finally:
        await http.close()
        await server.close()


@pytest.fixture
async def site(static_copy: Path) -> AsyncIterator[tuple[str, ClientSession]]:
    async for running in serve(static_copy, TILES):
        yield running


async def test_the_page_is_served_with_a_strict_content_policy(
    site: tuple[str, ClientSession],
) -> None:
    url, http = site
    async with http.get(url + "/") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        page = await resp.text()
        policy = resp.headers["Content-Security-Policy"]
    assert '<script type="module" src="/static/js/main.js">' in page
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy
    assert "img-src 'self' data: https://*.tiles.example:8443" in policy
    async with http.get(url + "/static/js/main.js") as resp:
        assert resp.status == 200
        assert "javascript" in resp.content_type
    async with http.get(url + "/static/vendor/leaflet/leaflet.js") as resp:
        assert resp.status == 200


async def test_the_config_tells_the_page_the_tiles_and_how_to_draw_each_statistic(
    site: tuple[str, ClientSession],
) -> None:
    url, http = site
    async with http.get(url + "/api/v1/config") as resp:
        assert resp.status == 200
        config = await resp.json()
    assert config["map_tiles_url"] == TILES
    assert config["alert_threshold"] == 17
    assert set(config["charts"]) == set(STATS)
    heat = config["charts"]["agitation_by_cell"]
    assert (heat["kind"], heat["x"], heat["y"], heat["value"]) == (
        "heatmap",
        "lon_min",
        "lat_min",
        "agitated",
    )


async def test_missing_libraries_give_a_page_saying_how_to_fix_it(static_copy: Path) -> None:
    (static_copy / "vendor/chart.js/chart.umd.min.js").unlink()
    assert missing_assets(static_copy) == ["vendor/chart.js/chart.umd.min.js"]
    async for url, http in serve(static_copy):
        async with http.get(url + "/") as resp:
            assert resp.status == 503
            page = await resp.text()
        assert "libraries are not installed" in page
        assert "vendor/chart.js/chart.umd.min.js" in page
        assert "make install" in page
        async with http.get(url + "/api/v1/config") as resp:
            assert resp.status == 200  # the API still answers
            assert (await resp.json())["map_tiles_url"] is None


def test_the_shipped_page_uses_no_inline_script_and_no_html_injection() -> None:
    page = (STATIC_DIR / "index.html").read_text()
    assert "<script>" not in page
    assert "onclick" not in page
    for script in (STATIC_DIR / "js").glob("*.js"):
        source = script.read_text()
        for sink in (".innerHTML", ".outerHTML", "insertAdjacentHTML(", "document.write", "eval("):
            assert sink not in source, f"{script.name} uses {sink}"


def test_policy_without_tiles_allows_this_server_only() -> None:
    policy = content_policy("")
    assert "img-src 'self' data:;" in policy
    assert "http" not in policy
    assert tiles_source("http://user:pw@tiles.local/{z}/{x}/{y}.png") == "http://tiles.local"


def test_tiles_setting_is_checked(tmp_path: Path) -> None:
    env = {"PEACELAND_MAP_TILES_URL": "https://tiles.local/{z}/{x}/{y}.png"}
    assert load_settings(environ=env, cwd=tmp_path).map_tiles_url == env["PEACELAND_MAP_TILES_URL"]
    assert load_settings(environ={}, cwd=tmp_path).map_tiles_url is None
    with pytest.raises(ConfigError, match="not an http"):
        load_settings(environ={"PEACELAND_MAP_TILES_URL": "ftp://x/{z}/{x}/{y}"}, cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"needs \{y\}"):
        load_settings(environ={"PEACELAND_MAP_TILES_URL": "https://x/{z}/{x}.png"}, cwd=tmp_path)
