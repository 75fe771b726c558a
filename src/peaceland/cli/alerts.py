"""``peaceland alerts tail|incidents|ack|resolve``: alerts and incidents for officers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from peaceland.cli.options import (
    DATA_DIR_OPTION,
    INCIDENT_STATUSES,
    JSON_TABLE_OPTION,
    SEVERITIES,
    settings_from,
)

if TYPE_CHECKING:
    from peaceland.contract import Severity
    from peaceland.delivery import Action, Incident, Status


@click.group("alerts")
def alerts_group() -> None:
    """Alerts for officers: follow them live, list incidents, acknowledge and resolve them."""


@alerts_group.command("tail")
@DATA_DIR_OPTION
@click.option(
    "--since", default=None, help="Replay from a time: RFC 3339 or an age (90s, 15m, 2h, 7d)."
)
@click.option("--drone", default=None, help="Only this drone's alerts.")
@click.option(
    "--severity",
    "severities",
    multiple=True,
    type=click.Choice(SEVERITIES),
    help="Only these severities; repeat for several [all].",
)
@click.option("--count", type=click.IntRange(min=1), default=None, help="Stop after this many.")
@click.option("--json", "as_json", is_flag=True, help="Print the alerts as JSON, one per line.")
def alerts_tail_command(
    data_dir: Path | None,
    since: str | None,
    drone: str | None,
    severities: tuple[Severity, ...],
    count: int | None,
    as_json: bool,
) -> None:
    """Live alerts on the terminal, straight from NATS: new ones only unless --since.

    \b
    One line per alert: report time, severity, citizen (peacescore), drone, position, age.
    Examples:
      peaceland alerts tail
      peaceland alerts tail --since 1h --severity critical
      peaceland alerts tail --json --count 10 | jq .citizen
    """
    import asyncio
    from datetime import UTC, datetime

    from rich.console import Console

    from peaceland.cli.alerts_view import TailOptions, tail
    from peaceland.config import resolve_endpoints
    from peaceland.contract import valid_drone_id
    from peaceland.delivery import parse_since
    from peaceland.runtime import run_until_stopped

    try:
        start = parse_since(since, datetime.now(UTC)) if since is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    if drone is not None and not valid_drone_id(drone):
        raise click.BadParameter("1-64 chars of [A-Za-z0-9_-]", param_hint="--drone")
    options = TailOptions(
        since=start,
        drone=drone,
        severities=frozenset(severities) or None,
        count=count,
        as_json=as_json,
    )
    endpoints = resolve_endpoints(settings_from(data_dir=data_dir))
    console = Console(highlight=False, soft_wrap=True)  # one line per alert, also in pipes

    async def main(stop: asyncio.Event) -> None:
        await tail(endpoints.nats_url, options, console, stop, tls_ca=endpoints.nats_tls_ca)

    run_until_stopped(main)


@alerts_group.command("incidents")
@DATA_DIR_OPTION
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(INCIDENT_STATUSES),
    help="Only these statuses; repeat for several [all].",
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@JSON_TABLE_OPTION
def alerts_incidents_command(
    data_dir: Path | None, statuses: tuple[Status, ...], limit: int, as_json: bool
) -> None:
    """Incidents (alerts grouped per citizen), most recently seen first.

    \b
    Examples:
      peaceland alerts incidents --status open
      peaceland alerts incidents --json --limit 500
    """
    import asyncio

    import msgspec
    from rich.console import Console

    from peaceland.cli.alerts_view import incident_table
    from peaceland.config import resolve_endpoints
    from peaceland.delivery import IncidentStore
    from peaceland.stream import connect

    endpoints = resolve_endpoints(settings_from(data_dir=data_dir))

    async def fetch() -> list[Incident]:
        nc = await connect(endpoints.nats_url, "peaceland-alerts", tls_ca=endpoints.nats_tls_ca)
        try:
            store = await IncidentStore.open(nc.jetstream())
            return await store.incidents(statuses or None, limit)
        finally:
            await nc.drain()

    incidents = asyncio.run(fetch())
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(incidents)).decode())
        return
    Console().print(incident_table(incidents))


def _incident_action(
    data_dir: Path | None, incident_id: str, action: Action, by: str | None, note: str | None
) -> None:
    import asyncio
    import getpass

    import msgspec

    from peaceland.access import audit as audit_log
    from peaceland.config import resolve_endpoints
    from peaceland.delivery import IncidentStore, check_request
    from peaceland.stream import connect

    try:
        request = check_request(by or getpass.getuser(), note)
    except msgspec.ValidationError as exc:
        raise click.BadParameter(str(exc), param_hint="--by / --note") from None
    endpoints = resolve_endpoints(settings_from(data_dir=data_dir))

    async def act() -> Incident:
        nc = await connect(endpoints.nats_url, "peaceland-alerts", tls_ca=endpoints.nats_tls_ca)
        try:
            js = nc.jetstream()
            store = await IncidentStore.open(js)
            done = await store.act(incident_id, action, request.by, request.note)
            actor = audit_log.cli_actor()
            await audit_log.record(
                js, audit_log.entry(actor, "operator", f"incident.{action}", incident_id)
            )
            return done
        finally:
            await nc.drain()

    incident = asyncio.run(act())
    click.echo(
        f"incident {incident.incident_id} {incident.status} by {request.by}: "
        f"{incident.citizen}, {incident.count} alert(s), last seen "
        f"{incident.last_seen:%Y-%m-%d %H:%M:%S} UTC at {incident.lat:.5f}, {incident.lon:.5f}"
    )


_BY_OPTION = click.option("--by", default=None, help="Officer's name [the login name].")
_NOTE_OPTION = click.option("--note", default=None, help="A note for the other officers.")


@alerts_group.command("ack")
@DATA_DIR_OPTION
@click.argument("incident_id")
@_BY_OPTION
@_NOTE_OPTION
def alerts_ack_command(
    data_dir: Path | None, incident_id: str, by: str | None, note: str | None
) -> None:
    """Acknowledge an open incident: an officer is on it (further alerts still attach).

    \b
    Example:
      peaceland alerts ack 3f2a9c0b1d4e5f67-1 --by "Sgt. Javert" --note "en route"
    """
    _incident_action(data_dir, incident_id, "ack", by, note)


@alerts_group.command("resolve")
@DATA_DIR_OPTION
@click.argument("incident_id")
@_BY_OPTION
@_NOTE_OPTION
def alerts_resolve_command(
    data_dir: Path | None, incident_id: str, by: str | None, note: str | None
) -> None:
    """Resolve an open or acknowledged incident; the citizen's next alert opens a new one.

    \b
    Example:
      peaceland alerts resolve 3f2a9c0d1e4b5a6c-1 --by "Insp. Javert" --note "calm again"
    """
    _incident_action(data_dir, incident_id, "resolve", by, note)
