"""Key-value buckets: one registry of the product's buckets, and one way to bind to a bucket,
creating it when missing.

The buckets (``INCIDENTS_BUCKET``, ``TOKENS_BUCKET``, ``LEASES_BUCKET``, all in ``BUCKETS``)
are described by a ``BucketSpec``, so their users need not know nats-py's configuration type;
their names are part of the contract. Binding is safe when several processes race to create the
same bucket: the loser binds to the winner's.
"""

from __future__ import annotations

import dataclasses
from typing import Final

from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import BadRequestError, BucketNotFoundError
from nats.js.kv import KeyValue

from peaceland.contract import DAY_S


@dataclasses.dataclass(frozen=True, slots=True)
class BucketSpec:
    name: str
    description: str
    #: Values kept per key; 1: only the latest.
    history: int = 1
    #: Seconds a value lives after its last write; ``None``: forever.
    ttl_s: float | None = None

    def config(self, replicas: int = 1) -> js_api.KeyValueConfig:
        return js_api.KeyValueConfig(
            bucket=self.name,
            description=self.description,
            history=self.history,
            ttl=self.ttl_s,
            replicas=replicas,
            storage=js_api.StorageType.FILE,
        )

    @property
    def stream(self) -> str:
        """The stream that holds the bucket."""
        return "KV_" + self.name


INCIDENTS_BUCKET: Final = BucketSpec(
    "INCIDENTS",
    "incidents: alerts grouped per citizen, and their lifecycle",
    # As long as the alerts they group (ALERTS keeps 30 days); the age of a key counts from
    # its last change, so an incident still changing never expires.
    ttl_s=30 * DAY_S,
)
TOKENS_BUCKET: Final = BucketSpec("TOKENS", "API tokens: SHA-256 of each token -> name and role")
#: Seconds a lease lives after its holder last renewed it (``stream.lease``).
LEASE_TTL_S: Final = 30.0
LEASES_BUCKET: Final = BucketSpec(
    "LEASES", "leases: which process runs a job that must not run twice at once", ttl_s=LEASE_TTL_S
)
BUCKETS: Final = (INCIDENTS_BUCKET, TOKENS_BUCKET, LEASES_BUCKET)


async def open_bucket(
    js: JetStreamContext, spec: BucketSpec, *, replicas: int = 1, create: bool = True
) -> KeyValue:
    """Bind to ``spec``'s bucket. When it is missing: create it (``create``), else raise
    ``BucketNotFoundError``. A bucket that exists is used as it is (an operator may have
    changed its replicas or limits), whatever ``spec`` says."""
    try:
        return await js.key_value(spec.name)
    except BucketNotFoundError:
        if not create:
            raise
    try:
        return await js.create_key_value(spec.config(replicas))
    except BadRequestError:  # created meanwhile by another process
        return await js.key_value(spec.name)


async def create_missing_buckets(js: JetStreamContext, replicas: int = 1) -> None:
    """Create every bucket of ``BUCKETS`` that does not exist with ``replicas``; existing ones
    are left as they are."""
    for spec in BUCKETS:
        await open_bucket(js, spec, replicas=replicas)
