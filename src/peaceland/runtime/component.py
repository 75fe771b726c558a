"""One runner for every long-lived component: ``gateway``, ``dashboard``, ``alerter``,
``archiver``, ``webhooks`` (and the supervisor of ``run``).

A component is a name and an async body ``main(stop)`` that works until ``stop`` is set, then
finishes the work in hand. The runner does the rest, the same way for all of them:

* logging is set up once, from the settings (level, text or JSON);
* SIGINT / SIGTERM set ``stop``; a body still busy after ``stop_grace_s`` is cancelled (its
  ``finally`` blocks still run), and a second signal cancels it at once;
* with a ``restart`` policy, a body that fails is started again after an exponential backoff
  (``Backoff``); without one the failure ends the process with status 1, and ``peaceland run``
  restarts the process with the same policy.

``keep_running`` is that restart loop on its own, for parts of a process (one webhook endpoint,
the incident builder of the web app) that must outlive each other's failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from peaceland.config import Settings
from peaceland.runtime.runner import setup_logging

log = logging.getLogger(__name__)

Main = Callable[[asyncio.Event], Awaitable[object]]
#: Waits ``seconds`` or until the event is set, whichever comes first (passed in by tests).
Wait = Callable[[asyncio.Event, float], Awaitable[None]]

#: How long a stopping body may take; below the 20 s the supervisor of ``run`` waits before
#: it kills a component, so the cancellation path (and its ``finally`` blocks) runs first.
STOP_GRACE_S: Final = 15.0
SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


@dataclasses.dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential restart delays: ``first_s``, then times ``factor`` per consecutive failure, at
    most ``max_s``. A run that lasted ``reset_after_s`` was healthy: its failure counts as the
    first again, so a component failing once a day always restarts quickly."""

    first_s: float = 2.0
    factor: float = 2.0
    max_s: float = 60.0
    reset_after_s: float = 60.0

    def __post_init__(self) -> None:
        if self.first_s < 0 or self.factor < 1 or self.max_s < self.first_s:
            raise ValueError(f"need 0 <= first_s <= max_s and factor >= 1, got {self}")

    def failures(self, previous: int, ran_s: float) -> int:
        """Consecutive failures, counting one more after a run of ``ran_s`` seconds."""
        return 1 if ran_s >= self.reset_after_s else previous + 1

    def delay(self, failures: int) -> float:
        """The wait before the next start after ``failures`` consecutive failures."""
        exponent = min(max(failures - 1, 0), 64)  # 2.0 ** 1000s would overflow
        return min(self.max_s, self.first_s * self.factor**exponent)


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def keep_running(
    name: str,
    main: Main,
    stop: asyncio.Event,
    backoff: Backoff | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    wait: Wait = wait_or_stop,
) -> int:
    """Run ``main(stop)`` until it returns or ``stop`` is set, starting it again after each
    failure (an ``Exception``) once the backoff has passed; returns the number of restarts."""
    backoff = backoff or Backoff()
    failures = restarts = 0
    while not stop.is_set():
        began = clock()
        try:
            await main(stop)
            return restarts
        except Exception:
            failures = backoff.failures(failures, clock() - began)
            delay = backoff.delay(failures)
            log.exception("%s failed; restarting in %g s", name, delay)
        await wait(stop, delay)
        if not stop.is_set():
            restarts += 1
    return restarts


@dataclasses.dataclass(frozen=True, slots=True)
class Component:
    """A long-lived body ``main(stop)`` under one stop and restart policy (see the module)."""

    name: str
    main: Main
    restart: Backoff | None = None
    stop_grace_s: float = STOP_GRACE_S

    async def serve(self, signals: Sequence[signal.Signals] = SIGNALS) -> None:
        """Run the body until it ends; ``signals`` stop it. Its failure is raised here."""
        stop = asyncio.Event()
        task = asyncio.create_task(self._body(stop), name=self.name)

        def on_signal() -> None:
            if stop.is_set():
                log.warning("%s: second stop signal, stopping now", self.name)
                task.cancel()
            else:
                log.info("%s: stopping (at most %g s)", self.name, self.stop_grace_s)
                stop.set()

        loop = asyncio.get_running_loop()
        for sig in signals:
            loop.add_signal_handler(sig, on_signal)
        stopping = asyncio.create_task(_until(stop))
        try:
            await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done():
                await asyncio.wait({task}, timeout=self.stop_grace_s)
            if not task.done():
                log.warning("%s did not stop within %g s: cancelled", self.name, self.stop_grace_s)
                task.cancel()
                await asyncio.wait({task})
            if not task.cancelled():
                task.result()  # the body's failure, if any
        finally:
            stopping.cancel()
            for sig in signals:
                loop.remove_signal_handler(sig)

    async def _body(self, stop: asyncio.Event) -> None:
        if self.restart is None:
            await self.main(stop)
        else:
            await keep_running(self.name, self.main, stop, self.restart)


async def _until(stop: asyncio.Event) -> None:
    await stop.wait()


def run_component(component: Component, settings: Settings) -> None:
    """The entry point of a component's command: logging from ``settings``, then serve it."""
    setup_logging(settings.log_level, settings.log_format)
    asyncio.run(component.serve())


def run_until_stopped(main: Main) -> None:
    """Run ``main(stop)`` until it ends; SIGINT or SIGTERM set ``stop`` (commands that are not
    components, such as ``alerts tail``, whose logging is already set up)."""
    asyncio.run(Component("peaceland", main).serve())
