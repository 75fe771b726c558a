"""TLS for NATS: with a certificate and key the embedded nats-server takes TLS clients only
(NATS and MQTT), and Peaceland's clients verify it against the configured authority."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import trustme

from mqtt_helpers import mqtt_close, mqtt_connect
from peaceland.config import Settings, load_settings, resolve_endpoints
from peaceland.contract import REPORTS_STREAM, ServiceError
from peaceland.servers import services
from peaceland.stream import connect

pytestmark = pytest.mark.slow


@pytest.fixture
def tls_settings(tmp_path: Path) -> Iterator[Settings]:
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1")
    cert, key, authority = tmp_path / "nats.pem", tmp_path / "nats.key", tmp_path / "ca.pem"
    server.cert_chain_pems[0].write_to_path(str(cert))
    server.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(authority))
    environ = {
        "PEACELAND_NATS_TLS_CERT": str(cert),
        "PEACELAND_NATS_TLS_KEY": str(key),
        "PEACELAND_NATS_TLS_CA": str(authority),
    }
    data_dir = tmp_path / "data"
    settings = load_settings(environ=environ, cwd=tmp_path, data_dir=data_dir)
    try:
        yield settings
    finally:
        services.down(settings, grace=2.0)


def mqtt_connack(url: str, credentials_url: str, ca: Path | None) -> int:
    """The CONNACK code for the user of ``credentials_url`` (-1: none), over TLS when ``ca``."""
    creds = urlsplit(credentials_url)
    client, code = mqtt_connect(
        url, unquote(creds.username or ""), unquote(creds.password or ""), ca=ca
    )
    mqtt_close(client)
    return code


async def test_mqtt_takes_tls_clients_only(tls_settings: Settings) -> None:
    state = services.up(tls_settings, prefer_default_ports=False)
    assert state.mqtt_url is not None
    assert state.mqtt_url.startswith("mqtts://")
    authority = tls_settings.nats_tls_ca
    assert authority is not None
    fleet = state.drone_nats_url
    assert fleet is not None
    assert await asyncio.to_thread(mqtt_connack, state.mqtt_url, fleet, authority) == 0
    assert await asyncio.to_thread(mqtt_connack, state.mqtt_url, fleet, None) != 0


async def test_tls_clients_connect_and_plain_ones_are_refused(tls_settings: Settings) -> None:
    state = services.up(tls_settings, prefer_default_ports=False)
    assert state.nats_url.startswith("tls://")
    assert state.drone_nats_url
    assert state.drone_nats_url.startswith("tls://")
    assert 'cert_file: "' in (tls_settings.data_dir / "nats" / "nats.conf").read_text()
    endpoints = resolve_endpoints(tls_settings)
    assert endpoints.nats_tls_ca == tls_settings.nats_tls_ca
    nc = await connect(endpoints.nats_url, "tls-test", tls_ca=endpoints.nats_tls_ca)
    try:
        assert nc.is_connected
        info = await nc.jetstream().stream_info(REPORTS_STREAM)
        assert info.config.name == REPORTS_STREAM
    finally:
        await nc.close()
    plain = state.nats_url.replace("tls://", "nats://", 1)
    with pytest.raises(ServiceError, match="cannot reach NATS"):
        await connect(plain, "plain-test", tls_ca=endpoints.nats_tls_ca, connect_timeout=2.0)
    # A client that does not trust the authority refuses the server.
    with pytest.raises(ServiceError, match="cannot reach NATS"):
        await connect(state.nats_url, "untrusting-test", connect_timeout=2.0)


def test_a_certificate_without_its_key_is_a_configuration_error(tmp_path: Path) -> None:
    from peaceland.contract import ConfigError

    with pytest.raises(ConfigError, match="set both or neither"):
        load_settings(environ={"PEACELAND_NATS_TLS_CERT": "x.pem"}, cwd=tmp_path)


async def test_a_cluster_takes_tls_clients_on_every_node(tls_settings: Settings) -> None:
    state = services.up(tls_settings, nodes=3, prefer_default_ports=False)
    assert len(state.nats_urls) == 3
    assert all(url.startswith("tls://") for url in state.nats_urls + state.drone_nats_urls)
    authority = tls_settings.nats_tls_ca
    for url in state.nats_urls:  # each node alone, verified against the authority
        nc = await connect(url, "tls-node-test", tls_ca=authority)
        try:
            info = await nc.jetstream().stream_info(REPORTS_STREAM)
            assert info.config.num_replicas == 3
        finally:
            await nc.close()
    with pytest.raises(ServiceError):
        await connect(state.nats_urls[0].replace("tls://", "nats://"), "plain-test")
