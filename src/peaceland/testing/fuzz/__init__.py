"""The ingest fuzzer, shared by ``tests/ingest/test_fuzz_ingest.py`` and ``benchmarks.fuzz``:
``payloads`` (generation), ``senders`` (HTTP and NATS), ``run`` (``run_fuzz`` and the
accounting)."""

from __future__ import annotations

from peaceland.testing.fuzz.payloads import Case, Payloads
from peaceland.testing.fuzz.run import run_fuzz

__all__ = ["Case", "Payloads", "run_fuzz"]
