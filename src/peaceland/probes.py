"""Readiness and health probes: reach NATS and S3 the way clients do, and prepare them.

NATS is ready when a client connects and JetStream answers an account-info request; S3 when a
*signed* request on the bucket succeeds. ``prepare_*`` retry until a deadline, then create the
contract's streams and the bucket; ``probe_*`` try once, for ``peaceland status``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
import nats
import nats.errors
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError
from nats.aio.client import Client as NatsClient

from peaceland import bus
from peaceland.config import Secret
from peaceland.errors import ServiceError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Says why a server we started is gone (with its log), or None while it lives.
DeathCheck = Callable[[], str | None]

# OSError covers refused connections and TimeoutError (asyncio.TimeoutError since 3.11).
_NATS_ERRORS = (nats.errors.Error, OSError)
_S3_MISSING = {"404", "NoSuchBucket", "NotFound"}
#: Written then deleted by ``up`` to prove the embedded S3 accepts writes.
WRITE_CHECK_KEY = "_peaceland/write-check"


def describe(exc: BaseException | None) -> str:
    """An exception on one line."""
    if exc is None:
        return "no answer"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even when a loop already runs here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


# -- NATS ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class NatsProbe:
    error: str | None
    streams: dict[str, int | None] | None = None


async def _connect(url: str, wait_s: float) -> NatsClient:
    async def quiet(exc: Exception) -> None:
        log.debug("nats probe: %s", exc)

    return await asyncio.wait_for(
        bus.connect_once(
            url,
            name="peaceland-probe",
            connect_timeout=wait_s,
            allow_reconnect=False,
            # nats-py retries the initial connect until a server is tried more than this.
            max_reconnect_attempts=1,
            reconnect_time_wait=0.1,
            error_cb=quiet,
            tls=bus.client_tls(url),
        ),
        wait_s + 1.0,
    )


def prepare_nats(
    url: str, *, deadline: float, died: DeathCheck | None, context: Callable[[], str]
) -> None:
    """Wait until JetStream answers at ``url``, then create or update the streams."""

    async def attempt(wait_s: float) -> None:
        nc = await _connect(url, wait_s)
        try:
            js = nc.jetstream(timeout=max(wait_s, 5.0))
            await js.account_info()
            await bus.ensure_streams(js)
        finally:
            await nc.close()

    async def loop() -> None:
        last: BaseException | None = None
        while True:
            if died is not None and (reason := died()):
                raise ServiceError(reason)
            try:
                await attempt(max(0.5, min(2.0, deadline - time.monotonic())))
                return
            except _NATS_ERRORS as exc:
                last = exc
            if time.monotonic() >= deadline:
                raise ServiceError(f"NATS at {url} not ready in time: {describe(last)}{context()}")
            await asyncio.sleep(0.2)

    run_async(loop)


def wait_nats_login(url: str, *, deadline: float) -> None:
    """Wait until ``url``'s credentials are accepted (a reloaded configuration applies
    asynchronously after SIGHUP)."""

    async def loop() -> None:
        last: BaseException | None = None
        while time.monotonic() < deadline:
            try:
                nc = await _connect(url, 1.0)
            except (*_NATS_ERRORS, TimeoutError) as exc:
                last = exc
                await asyncio.sleep(0.05)
                continue
            await nc.close()
            return
        raise ServiceError(
            f"NATS at {bus.redact(url)} did not accept the new user: {describe(last)}"
        )

    run_async(loop)


def probe_nats(url: str, timeout: float) -> NatsProbe:
    """One try: connect, ask JetStream, count the messages of each stream."""

    async def go() -> NatsProbe:
        try:
            nc = await _connect(url, timeout)
        except _NATS_ERRORS as exc:
            return NatsProbe(describe(exc))
        try:
            js = nc.jetstream(timeout=timeout)
            await js.account_info()
            return NatsProbe(None, await bus.stream_message_counts(js))
        except _NATS_ERRORS as exc:
            return NatsProbe(describe(exc))
        finally:
            await nc.close()

    return run_async(go)


# -- S3 ------------------------------------------------------------------------------------------


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
