"""``peaceland alerts tail``: live alerts on the terminal, read from NATS directly; and the
table of ``peaceland alerts incidents``.

One line per alert: report time, severity (colour-coded), citizen and peacescore, drone,
position, and age (how long ago the drone saw the citizen). ``--json`` prints the alerts as
stored, one per line, for scripts. New alerts only, unless ``since`` replays from a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from peaceland.contract import Alert, Severity, alert_subject
from peaceland.delivery import ALL_ALERTS, Incident, StoredAlert, follow, stored_alert
from peaceland.stream import Msg, connect

STYLES: Final[dict[str, str]] = {
    "critical": "bold white on red",
    "major": "bold red",
    "minor": "yellow",
}


def age(seconds: float) -> str:
    """Compact age: ``4s``, ``12m``, ``3h``, ``2d``; never negative (clocks drift)."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def alert_line(alert: Alert, now: datetime) -> Text:
    line = Text()
    line.append(alert.ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"), style="dim")
    line.append("  ")
    line.append(f" {alert.severity.upper():<8} ", style=STYLES.get(alert.severity, ""))
    line.append("  ")
    line.append(alert.citizen, style="bold")
    line.append(f" ({alert.peacescore})")
    line.append("  drone ")
    line.append(alert.drone_id, style="cyan")
    line.append(f"  at {alert.lat:.5f}, {alert.lon:.5f}")
    line.append(f"  {age((now - alert.ts).total_seconds())} ago", style="dim")
    return line


@dataclasses.dataclass(frozen=True, slots=True)
class TailOptions:
    since: datetime | None = None
    drone: str | None = None
    severities: frozenset[Severity] | None = None
    count: int | None = None
    as_json: bool = False


async def tail(
    nats_url: str,
    options: TailOptions,
    console: Console,
    stop: asyncio.Event,
    *,
    tls_ca: Path | None = None,
) -> int:
    """Print alerts until ``stop`` is set or ``options.count`` were printed; returns how many."""
    nc = await connect(nats_url, "peaceland-alerts-tail", tls_ca=tls_ca)
    queue: asyncio.Queue[StoredAlert] = asyncio.Queue()

    async def on_msg(msg: Msg) -> None:
        item = stored_alert(msg)
        if item is not None:
            queue.put_nowait(item)

    printed = 0
    try:
        subject = alert_subject(options.drone) if options.drone else ALL_ALERTS
        sub = await follow(nc, on_msg, since=options.since, subject=subject)
        stopping = asyncio.create_task(stop.wait())
        try:
            while options.count is None or printed < options.count:
                getting = asyncio.create_task(queue.get())
                await asyncio.wait({getting, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if not getting.done():
                    getting.cancel()
                    break
                item = getting.result()
                if options.severities is not None and item.alert.severity not in options.severities:
                    continue
                if options.as_json:
                    console.out(item.payload.decode(), highlight=False)
                else:
                    console.print(alert_line(item.alert, datetime.now(UTC)))
                printed += 1
        finally:
            stopping.cancel()
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
    finally:
        await nc.drain()
    return printed


def incident_table(incidents: Sequence[Incident], now: datetime | None = None) -> Table:
    """Incidents for ``peaceland alerts incidents``."""
    now = now or datetime.now(UTC)
    table = Table("incident", "status", "severity", "citizen", "alerts", "last seen", "position")
    for i in incidents:
        status = {"open": "[bold red]open[/]", "acknowledged": "[yellow]acknowledged[/]"}
        who = i.acknowledged.by if i.acknowledged and i.status == "acknowledged" else ""
        table.add_row(
            i.incident_id,
            status.get(i.status, i.status) + (f" ({escape(who)})" if who else ""),
            Text(i.severity, style=STYLES.get(i.severity, "")),
            Text(f"{i.citizen} ({i.peacescore})"),
            str(i.count),
            f"{age((now - i.last_seen).total_seconds())} ago",
            f"{i.lat:.5f}, {i.lon:.5f} ({escape(i.drone_id)})",
        )
    return table
