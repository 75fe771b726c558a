"""Readiness and health of S3: a *signed* request on the bucket, the way clients make it.

``prepare_s3`` retries until a deadline, then creates the bucket; ``probe_s3`` tries once, for
``peaceland status``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from peaceland.config import Secret
from peaceland.contract import ServiceError, describe

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

#: Says why a server we started is gone (with its log), or None while it lives.
DeathCheck = Callable[[], str | None]

_S3_MISSING = {"404", "NoSuchBucket", "NotFound"}
#: Written then deleted by ``up`` to prove the embedded S3 accepts writes.
WRITE_CHECK_KEY = "_peaceland/write-check"


def s3_client(
    endpoint: str, access_key: str | None, secret_key: Secret | None, *, timeout: float
) -> S3Client:
    """A path-style, signed S3 client; no retries (callers retry)."""
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key or None,
        aws_secret_access_key=secret_key.reveal() if secret_key else None,
        region_name="us-east-1",
        config=BotoConfig(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": 1, "mode": "standard"},
        ),
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def ensure_bucket(client: S3Client, bucket: str) -> bool:
    """Create ``bucket`` unless it exists; True when created."""
    try:
        client.head_bucket(Bucket=bucket)
        return False
    except ClientError as exc:
        if _code(exc) not in _S3_MISSING:
            raise
    try:
        client.create_bucket(Bucket=bucket)
    except ClientError as exc:
        if _code(exc) != "BucketAlreadyOwnedByYou":
            raise
    log.info("created bucket %s", bucket)
    return True


def prepare_s3(
    endpoint: str,
    access_key: str | None,
    secret_key: Secret | None,
    bucket: str,
    *,
    deadline: float,
    died: DeathCheck | None,
    context: Callable[[], str],
    write_check: bool = False,
) -> None:
    """Wait until a signed request succeeds, then create the bucket if needed.

    While our own server starts every error is transient; an external server that answers with
    an error (bad credentials, say) fails at once. ``write_check`` also writes and deletes a
    small object: a fresh SeaweedFS answers before its volumes accept writes.
    """
    client = s3_client(endpoint, access_key, secret_key, timeout=2.0)
    last: BaseException | None = None
    try:
        while True:
            if died is not None and (reason := died()):
                raise ServiceError(reason)
            try:
                ensure_bucket(client, bucket)
                if write_check:
                    client.put_object(Bucket=bucket, Key=WRITE_CHECK_KEY, Body=b"ok")
                    client.delete_object(Bucket=bucket, Key=WRITE_CHECK_KEY)
                return
            except ClientError as exc:
                if died is None:
                    raise ServiceError(f"S3 at {endpoint}: {describe(exc)}") from None
                last = exc
            except BotoCoreError as exc:
                last = exc
            if time.monotonic() >= deadline:
                raise ServiceError(
                    f"S3 at {endpoint} not ready in time: {describe(last)}{context()}"
                )
            time.sleep(0.2)
    finally:
        client.close()


def probe_s3(
    endpoint: str,
    access_key: str | None,
    secret_key: Secret | None,
    bucket: str,
    timeout: float,
) -> str | None:
    """One signed HEAD on the bucket; None when fine, else what is wrong."""
    client = s3_client(endpoint, access_key, secret_key, timeout=timeout)
    try:
        client.head_bucket(Bucket=bucket)
        return None
    except ClientError as exc:
        if _code(exc) in _S3_MISSING:
            return f"bucket {bucket!r} does not exist (run `peaceland up`)"
        return describe(exc)
    except BotoCoreError as exc:
        return describe(exc)
    finally:
        client.close()
