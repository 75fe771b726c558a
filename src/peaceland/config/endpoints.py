"""Where the stream and the object store are: from the settings (external servers) or from
``services.json`` (the servers ``peaceland up`` started).

S3-only work (analytics, compaction) resolves ``S3Endpoints`` and never asks for NATS; the
rest resolves ``Endpoints``, both servers. ``S3Location`` is either: what the object store
and DuckDB take.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TypeAlias

from peaceland.config.secret import Secret
from peaceland.config.services_state import ServicesState, read_services_state
from peaceland.config.settings import DEFAULT_BUCKET, Settings
from peaceland.contract import ConfigError, NotRunningError

S3_CREDENTIALS_REQUIRED = (
    "S3 credentials are required: set PEACELAND_S3_ACCESS_KEY and PEACELAND_S3_SECRET_KEY "
    "(anonymous access to the archive is never used)"
)


@dataclasses.dataclass(frozen=True, slots=True)
class S3Endpoints:
    """The object store alone, for work that never touches the stream."""

    s3_endpoint: str
    s3_bucket: str
    s3_access_key: str
    s3_secret_key: Secret


@dataclasses.dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the stream and the object store are, whichever way they were found."""

    nats_url: str
    s3_endpoint: str
    s3_bucket: str
    s3_access_key: str
    s3_secret_key: Secret
    mqtt_url: str | None = None
    #: Publishing reports only (the fleet role); ``nats_url`` when no narrower one is known.
    drone_nats_url: str = ""
    #: The authority NATS clients trust for ``tls://`` URLs (``None``: the system's).
    nats_tls_ca: Path | None = None

    @property
    def publisher_url(self) -> str:
        return self.drone_nats_url or self.nats_url


#: What the object store and DuckDB need: either carries the bucket and its credentials.
S3Location: TypeAlias = S3Endpoints | Endpoints


def resolve_s3_endpoints(settings: Settings) -> S3Endpoints:
    """The external S3 server of the settings, else the one ``peaceland up`` recorded."""
    state = read_services_state(settings.data_dir)
    return _s3_of(settings, state)


def resolve_endpoints(settings: Settings) -> Endpoints:
    """External servers from settings win; otherwise those recorded by ``peaceland up``."""
    state = read_services_state(settings.data_dir)
    nats_url = settings.nats_url or (state.nats_url if state else None)
    if nats_url is None:
        raise NotRunningError(
            f"no servers running in {settings.data_dir} — run `peaceland up` "
            + (
                "(or set PEACELAND_NATS_URL)"
                if settings.s3_endpoint
                else "(or set PEACELAND_NATS_URL and PEACELAND_S3_ENDPOINT)"
            )
        )
    s3 = _s3_of(settings, state)
    embedded_nats = state is not None and settings.nats_url is None
    return Endpoints(
        nats_url=nats_url,
        s3_endpoint=s3.s3_endpoint,
        s3_bucket=s3.s3_bucket,
        s3_access_key=s3.s3_access_key,
        s3_secret_key=s3.s3_secret_key,
        mqtt_url=state.mqtt_url if state and embedded_nats else None,
        drone_nats_url=(
            settings.drone_nats_url
            or (state.drone_nats_url if state and embedded_nats else None)
            or ""
        ),
        nats_tls_ca=settings.nats_tls_ca,
    )


def _s3_of(settings: Settings, state: ServicesState | None) -> S3Endpoints:
    s3_endpoint = settings.s3_endpoint or (state.s3_endpoint if state else None)
    if s3_endpoint is None:
        raise NotRunningError(
            f"no servers running in {settings.data_dir} — run `peaceland up` "
            "(or set PEACELAND_S3_ENDPOINT)"
        )
    embedded = state if settings.s3_endpoint is None else None
    access = settings.s3_access_key or (embedded.s3_access_key if embedded else "")
    secret = settings.s3_secret_key or Secret(embedded.s3_secret_key if embedded else "")
    if not access or not secret.reveal():
        raise ConfigError(S3_CREDENTIALS_REQUIRED)
    bucket = (
        embedded.s3_bucket
        if embedded is not None and settings.s3_bucket == DEFAULT_BUCKET
        else settings.s3_bucket
    )
    return S3Endpoints(s3_endpoint, bucket, access, secret)
