"""Test support shipped with the product: in-memory twins of the edges, and the harness that
tests and benchmarks share (a private stack of real servers, components as processes, the
ingest fuzzer). Nothing of the product imports it.

    from peaceland.testing import MemoryStore, running_stack
"""

from __future__ import annotations

from peaceland.testing.fuzz import run_fuzz
from peaceland.testing.machine import machine
from peaceland.testing.memory import MemoryDeadLetters, MemoryKeyValue, MemoryStore
from peaceland.testing.memory_stream import MemoryMessage, MemoryStream
from peaceland.testing.processes import Component, component, component_env, components
from peaceland.testing.stack import (
    BODY_LIMIT,
    TEARDOWN_GRACE_S,
    Served,
    Stack,
    api_headers,
    create_role_tokens,
    create_token,
    new_token,
    private_stack,
    running_stack,
    stack_settings,
)

__all__ = [
    "BODY_LIMIT",
    "TEARDOWN_GRACE_S",
    "Component",
    "MemoryDeadLetters",
    "MemoryKeyValue",
    "MemoryMessage",
    "MemoryStore",
    "MemoryStream",
    "Served",
    "Stack",
    "api_headers",
    "component",
    "component_env",
    "components",
    "create_role_tokens",
    "create_token",
    "machine",
    "new_token",
    "private_stack",
    "run_fuzz",
    "running_stack",
    "stack_settings",
]
