"""Shared pieces of the benchmarks: result files, medians, tables. The private stack, the
component processes, tokens and machine facts are ``peaceland.testing``'s, shared with the
tests."""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from peaceland.config import Endpoints, Settings
from peaceland.testing import private_stack as _private_stack

__all__ = [
    "RESULTS_DIR",
    "markdown_table",
    "median",
    "private_stack",
    "write_results",
]

RESULTS_DIR = Path(__file__).parent / "results"


@contextlib.contextmanager
def private_stack() -> Iterator[tuple[Settings, Endpoints]]:
    """(settings, endpoints) of ``peaceland.testing.private_stack``."""
    with _private_stack() as stack:
        yield stack.settings, stack.endpoints


def median(values: list[float]) -> float:
    return statistics.median(values)


def write_results(name: str, machine_info: dict[str, Any], results: dict[str, Any]) -> Path:
    """``machine_info`` is taken at the start of the run, before the load."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    results = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info,
        **results,
    }
    path.write_bytes(msgspec.json.format(msgspec.json.encode(results)) + b"\n")
    return path


def markdown_table(title: str, rows: list[tuple[str, str]]) -> str:
    """A two-column markdown table: ``title`` heads the first column, one row per pair."""
    lines = [f"| {title} | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in rows]
    return "\n".join(lines)
