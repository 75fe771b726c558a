"""A private 3-node cluster per test: three ``nats-server`` nodes, three SeaweedFS masters,
three volume servers, a filer and an S3 gateway, started by ``services.up(nodes=3)`` on free
ports in the test's temp dir and always stopped with ``services.down``.

The fault kit of ``tests/faults`` (the fleet, the ledger, the exactly-once checks) is shared:
its directory is put on the import path here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from peaceland.testing import Stack, running_stack

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))

NODES = 3


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Stack]:
    with running_stack(tmp_path / "cluster", nodes=NODES) as running:
        yield running
