"""Fuzzing both ingest paths (HTTP gateway and NATS) end to end: ``peaceland.testing.run_fuzz``.

Here 20,000 payloads (about 35 s on the 2-core machine); ``make fuzz`` runs 100,000.
"""

from __future__ import annotations

from typing import Any

import pytest

from peaceland.testing import run_fuzz

pytestmark = pytest.mark.slow

PAYLOADS = 20_000


@pytest.mark.timeout(600)
# The fuzzer sends oversized bodies on purpose; aiohttp warns about large raw-bytes bodies.
@pytest.mark.filterwarnings("ignore:Sending a large body directly:ResourceWarning")
async def test_every_fuzzed_payload_is_stored_or_dead_lettered(fresh_stack: Any) -> None:
    summary = await run_fuzz(
        fresh_stack.data_dir,
        fresh_stack.endpoints,
        PAYLOADS,
        token=fresh_stack.token("drone"),
        seed=7,
    )
    assert summary["problems"] == []
    http, fleet, books = summary["http"], summary["nats"], summary["accounting"]
    assert http["payloads"] + fleet["payloads"] == PAYLOADS
    # Every sort of payload was sent on both paths.
    expected_kinds = {"valid", "subtle", "wrong_type", "bad_utf8", "garbage", "deep"}
    assert expected_kinds <= set(http["kinds"])
    assert expected_kinds | {"mismatch"} <= set(fleet["kinds"])
    # HTTP: one verdict per item, as the contract says.
    assert http["accepted"] == http["valid"]
    assert http["rejected"] == http["invalid"]
    assert http["verdict_mismatches"] == 0
    # NATS: every publish acknowledged; the consumers dead-letter exactly the invalid ones.
    assert fleet["accepted"] == fleet["payloads"]
    for source, invalid in [
        ("gateway", http["invalid"]),
        ("alerter", fleet["invalid"]),
        ("archiver", fleet["invalid"]),
    ]:
        dead = books["deadletters"][source]
        assert dead == {"expected": invalid, "found": invalid, "missing": 0, "unexpected": 0}
    assert books["reports_stored"] == books["reports_stored_expected"]
    assert books["archived"] == books["archived_expected"] == http["valid"] + fleet["valid"]
    assert summary["health"]["failures"] == 0
