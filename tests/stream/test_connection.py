"""The TLS context and redaction of a NATS connection: the authority is an argument."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import trustme

from peaceland.contract import ServiceError
from peaceland.stream.connection import client_tls, redact


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
