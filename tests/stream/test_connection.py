"""URL lists, the TLS context and redaction of a NATS connection: the authority is an
argument, credentials leave the URLs."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from peaceland.contract import ConfigError, ServiceError
from peaceland.stream.connection import ServerList, client_tls, redact, split_servers


def test_plain_urls_get_no_tls_context(tmp_path: Path) -> None:
    assert client_tls("nats://127.0.0.1:4222", tmp_path / "ca.pem") is None


def test_tls_urls_trust_the_given_authority(tmp_path: Path) -> None:
    authority = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(authority))
    context = client_tls(" tls://127.0.0.1:4222", authority)
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.cert_store_stats()["x509_ca"] == 1  # that one, not the system's
    # Without one, the system's authorities: two contexts never share a process-wide choice.
    assert isinstance(client_tls("tls://127.0.0.1:4222"), ssl.SSLContext)


def test_an_unreadable_authority_is_a_one_line_service_error(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="certificate authority"):
        client_tls("tls://127.0.0.1:4222", tmp_path / "missing.pem")


def test_redact_drops_credentials_of_every_url() -> None:
    urls = "tls://svc:secret@127.0.0.1:4222,nats://a:b@10.0.0.2:4222"
    assert redact(urls) == "tls://127.0.0.1:4222,nats://10.0.0.2:4222"


def test_a_url_list_splits_into_servers_and_one_set_of_credentials() -> None:
    servers = split_servers(
        " nats://svc:p%40ss%2Fw%3Ard@127.0.0.1:4222, nats://svc:p%40ss%2Fw%3Ard@127.0.0.1:4223,"
    )
    assert servers == ServerList(
        ("nats://127.0.0.1:4222", "nats://127.0.0.1:4223"), "svc", "p@ss/w:rd"
    )
    assert servers.options() == {
        "servers": ["nats://127.0.0.1:4222", "nats://127.0.0.1:4223"],
        "user": "svc",
        "password": "p@ss/w:rd",
    }
    assert not servers.tls


def test_urls_without_credentials_share_the_lists() -> None:
    servers = split_servers("nats://a:b@127.0.0.1:4222,127.0.0.1:4223")
    assert servers.urls == ("nats://127.0.0.1:4222", "nats://127.0.0.1:4223")
    assert (servers.user, servers.password) == ("a", "b")
    assert split_servers("nats://127.0.0.1:4222").options() == {
        "servers": ["nats://127.0.0.1:4222"]
    }


def test_a_user_without_password_is_a_token() -> None:
    assert split_servers("nats://tok3n@127.0.0.1:4222").options() == {
        "servers": ["nats://127.0.0.1:4222"],
        "token": "tok3n",
    }


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("nats://a:b@127.0.0.1:4222,nats://a:c@127.0.0.1:4223", "different credentials"),
        ("nats://a:b@127.0.0.1:4222,nats://c:b@127.0.0.1:4223", "different credentials"),
        ("tls://127.0.0.1:4222,nats://127.0.0.1:4223", "mix tls:// and nats://"),
        (" , ", "no NATS server"),
        ("http://127.0.0.1:4222", "not a NATS server URL"),
    ],
)
def test_lists_a_client_cannot_use_are_config_errors(url: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why) as caught:
        split_servers(url)
    assert "b@" not in str(caught.value)  # never a password in the message


def test_a_tls_list_gets_one_context_for_every_server(tmp_path: Path) -> None:
    authority = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(authority))
    urls = "tls://a:b@127.0.0.1:4222,tls://a:b@127.0.0.1:4223"
    assert isinstance(client_tls(urls, authority), ssl.SSLContext)
    assert split_servers(urls).urls == ("tls://127.0.0.1:4222", "tls://127.0.0.1:4223")
