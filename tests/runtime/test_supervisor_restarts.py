"""The supervisor of ``run`` restarts a dead component after a backoff, without waiting."""

from __future__ import annotations

import asyncio
from pathlib import Path

from peaceland.config import Settings
from peaceland.runtime.supervisor import RESTART, Supervisor

DEADLINE_S = 30.0


async def _exited(supervisor: Supervisor) -> int:
    proc = supervisor.children[0].proc
    assert proc is not None
    async with asyncio.timeout(DEADLINE_S):
        return await proc.wait()


async def test_a_dead_component_restarts_once_its_backoff_has_passed(tmp_path: Path) -> None:
    supervisor = Supervisor(Settings(data_dir=tmp_path), [("no-such-command",)])
    child = supervisor.children[0]
    await child.start(supervisor.env)
    assert await _exited(supervisor) != 0
    now = child.started_at + 1.0  # died after 1 s: a first failure

    await supervisor._restart_dead(now)
    assert (child.restarts, child.failures, child.restart_at) == (0, 1, now + RESTART.first_s)
    first = child.proc
    await supervisor._restart_dead(now + RESTART.first_s / 2)
    assert child.proc is first  # still waiting, and nothing blocked meanwhile

    await supervisor._restart_dead(now + RESTART.first_s)
    assert child.restarts == 1
    assert child.proc is not first
    assert child.restart_at is None
    assert await _exited(supervisor) != 0

    again = child.started_at + 1.0
    await supervisor._restart_dead(again)
    assert child.failures == 2
    assert child.restart_at == again + RESTART.delay(2)
    assert "no-such-command" in (tmp_path / "logs" / "no-such-command.log").read_text()
