"""The component runner: restart backoff, the restart loop, signals and the stop deadline."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path

import pytest

from peaceland.config import load_settings
from peaceland.runtime import Backoff, Component, keep_running, setup_logging
from peaceland.runtime.runner import JsonFormatter

DEADLINE_S = 5.0


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(first_s=1, factor=2, max_s=10)
    assert [backoff.delay(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    assert backoff.delay(10_000) == 10  # no overflow after days of failures


def test_a_long_run_resets_the_failure_count() -> None:
    backoff = Backoff(reset_after_s=60)
    assert backoff.failures(3, ran_s=1.0) == 4
    assert backoff.failures(3, ran_s=60.0) == 1


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="first_s <= max_s"):
        Backoff(first_s=5, max_s=1)
    with pytest.raises(ValueError, match="factor >= 1"):
        Backoff(factor=0.5)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_keep_running_restarts_after_failures_with_growing_delays() -> None:
    clock, waits, runs = Clock(), list[float](), list[int]()
    stop = asyncio.Event()

    async def main(stop: asyncio.Event) -> None:
        runs.append(len(runs))
        if len(runs) <= 3:
            clock.now += 1.0  # short runs: consecutive failures
            raise RuntimeError("boom")

    async def wait(stop: asyncio.Event, seconds: float) -> None:
        waits.append(seconds)

    backoff = Backoff(first_s=1, factor=3, max_s=100)
    restarts = await keep_running("t", main, stop, backoff, clock=clock, wait=wait)
    assert (restarts, waits, len(runs)) == (3, [1, 3, 9], 4)


async def test_keep_running_resets_the_delay_after_a_healthy_run() -> None:
    clock, waits = Clock(), list[float]()
    runs = 0

    async def main(stop: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        clock.now += 1.0 if runs != 3 else 120.0  # the third run lasts two minutes
        if runs < 5:
            raise RuntimeError("boom")

    async def wait(stop: asyncio.Event, seconds: float) -> None:
        waits.append(seconds)

    backoff = Backoff(first_s=1, factor=2, max_s=100, reset_after_s=60)
    await keep_running("t", main, asyncio.Event(), backoff, clock=clock, wait=wait)
    assert waits == [1, 2, 1, 2]


async def test_stop_during_the_backoff_ends_the_loop_without_a_restart() -> None:
    stop, failed = asyncio.Event(), asyncio.Event()
    runs = 0

    async def main(stop: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        failed.set()
        raise RuntimeError("boom")

    task = asyncio.create_task(keep_running("t", main, stop, Backoff(first_s=60, max_s=60)))
    async with asyncio.timeout(DEADLINE_S):
        await failed.wait()
        stop.set()
        assert await task == 0  # the 60 s wait ended at once
    assert runs == 1


async def _serve(component: Component, *cues: tuple[asyncio.Event, signal.Signals]) -> None:
    """Serve ``component`` in this process, sending each signal once its event is set."""
    async with asyncio.timeout(DEADLINE_S):
        serving = asyncio.create_task(component.serve())
        for event, sig in cues:
            await event.wait()
            os.kill(os.getpid(), sig)
        await serving


async def test_a_signal_stops_the_body_which_finishes_its_work() -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def main(stop: asyncio.Event) -> None:
        started.set()
        await stop.wait()
        await asyncio.sleep(0)  # the work in hand
        finished.set()

    await _serve(Component("t", main), (started, signal.SIGTERM))
    assert finished.is_set()


async def test_a_body_slower_than_its_grace_is_cancelled_and_cleans_up() -> None:
    started, cleaned = asyncio.Event(), asyncio.Event()

    async def main(stop: asyncio.Event) -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # ignores stop
        finally:
            cleaned.set()

    await _serve(Component("t", main, stop_grace_s=0.05), (started, signal.SIGINT))
    assert cleaned.is_set()


async def test_a_second_signal_cancels_at_once() -> None:
    started, stopping, cleaned = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def main(stop: asyncio.Event) -> None:
        started.set()
        await stop.wait()
        stopping.set()
        try:
            await asyncio.Event().wait()  # a stop that would take the whole grace
        finally:
            cleaned.set()

    component = Component("t", main, stop_grace_s=3600)
    await _serve(component, (started, signal.SIGTERM), (stopping, signal.SIGTERM))
    assert cleaned.is_set()


async def test_the_body_failure_is_raised_and_signal_handlers_are_removed() -> None:
    async def main(stop: asyncio.Event) -> None:
        raise RuntimeError("cannot start")

    with pytest.raises(RuntimeError, match="cannot start"):
        await Component("t", main).serve()
    loop = asyncio.get_running_loop()
    assert not loop.remove_signal_handler(signal.SIGTERM)  # none left behind


async def test_a_component_with_a_restart_policy_survives_a_failure() -> None:
    runs = 0

    async def main(stop: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("transient")

    component = Component("t", main, restart=Backoff(first_s=0.01, max_s=0.01))
    async with asyncio.timeout(DEADLINE_S):
        await component.serve(signals=())
    assert runs == 2


def test_json_logs_when_the_setting_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PEACELAND_LOG_FORMAT", "json")  # the environment is not read here
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        root.handlers.clear()
        setup_logging("info")
        assert not isinstance(root.handlers[0].formatter, JsonFormatter)
        root.handlers.clear()
        setup_logging("info", "json")
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_the_log_format_is_a_setting(tmp_path: Path) -> None:
    env = {"PEACELAND_DATA_DIR": str(tmp_path), "PEACELAND_LOG_FORMAT": "json"}
    assert load_settings(env, cwd=tmp_path).log_format == "json"
    assert load_settings({"PEACELAND_DATA_DIR": str(tmp_path)}, cwd=tmp_path).log_format == "text"
