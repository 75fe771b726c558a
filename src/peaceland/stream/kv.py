"""Key-value buckets: one way to bind to a bucket of the product, creating it when missing.

The buckets (``INCIDENTS``, ``TOKENS``) are described by a ``BucketSpec``, so their users need
not know nats-py's configuration type. Binding is safe when several processes race to create
the same bucket: the loser binds to the winner's.
"""

from __future__ import annotations

import dataclasses

from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import BadRequestError, BucketNotFoundError
from nats.js.kv import KeyValue


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
