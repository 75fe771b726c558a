"""``peaceland drone enroll``, ``peaceland token create|list|revoke``, ``peaceland audit``.

Run by operators on a machine holding the data directory (its ``services.json`` carries the
service credentials); officers manage tokens over HTTP with an admin token instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
import msgspec

from peaceland.access import Role, TokenRecord, TokenStore
from peaceland.cli.options import DATA_DIR_OPTION, settings_from
from peaceland.config import Endpoints
from peaceland.stream import JetStreamContext

T = TypeVar("T")

ROLE_CHOICE = click.Choice([r.value for r in Role])


def _endpoints(data_dir: Path | None) -> Endpoints:
    from peaceland.config import resolve_endpoints

    return resolve_endpoints(settings_from(data_dir=data_dir))


def _on_nats(data_dir: Path | None, work: Callable[[JetStreamContext], Awaitable[T]]) -> T:
    """Run ``work(js)`` on a connection to the data dir's NATS."""
    from peaceland.stream import connect

    endpoints = _endpoints(data_dir)

    async def go() -> T:
        nc = await connect(endpoints.nats_url, "peaceland-access", tls_ca=endpoints.nats_tls_ca)
        try:
            return await work(nc.jetstream())
        finally:
            await nc.drain()

    return asyncio.run(go())


@click.group("drone")
def drone_group() -> None:
    """Drones' own NATS credentials."""


@drone_group.command("enroll")
@DATA_DIR_OPTION
@click.argument("drone_id")
@click.option("--json", "as_json", is_flag=True, help="Print the credentials as JSON.")
def drone_enroll_command(data_dir: Path | None, drone_id: str, as_json: bool) -> None:
    """Issue NATS credentials for one drone: it may publish only its own reports.

    The password is shown once; enrolling the same drone again replaces it (the old one stops
    working at once). The drone's client must use the printed inbox prefix.

    \b
    Example:
      peaceland drone enroll pw-0042
    """
    from peaceland.servers import services

    creds = services.enroll_drone(settings_from(data_dir=data_dir), drone_id)
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(creds)).decode())
        return
    click.echo(f"drone         {creds.drone_id}")
    click.echo(f"user          {creds.user}")
    click.echo(f"password      {creds.password}")
    click.echo(f"nats url      {creds.nats_url}")
    click.echo(f"subject       {creds.subject}  (the only one it may publish on)")
    click.echo(f"inbox prefix  {creds.inbox_prefix}  (for JetStream acknowledgements)")
    if creds.mqtt_url:
        click.echo(f"mqtt          {creds.mqtt_url}  (same user and password)")
    click.echo("The password is not stored: keep it now.", err=True)


@click.group("token")
def token_group() -> None:
    """HTTP API tokens: drone, viewer, dispatcher, admin."""


@token_group.command("create")
@DATA_DIR_OPTION
@click.option("--role", type=ROLE_CHOICE, required=True, help="What the token may do.")
@click.option(
    "--drone",
    "drone_id",
    default=None,
    help="Bind a drone token to this drone: reports of any other drone are refused.",
)
@click.argument("name")
def token_create_command(data_dir: Path | None, role: str, drone_id: str | None, name: str) -> None:
    """Create an API token; prints the token alone on stdout (only its hash is stored).

    \b
    Roles:
      drone       POST /api/v1/reports only
      viewer      read alerts, incidents, statistics, the fleet
      dispatcher  viewer + acknowledge and resolve incidents
      admin       everything, tokens and the audit log included
    \b
    Example:
      TOKEN=$(peaceland token create --role dispatcher desk-1)
      peaceland token create --role drone --drone pw-0042 pw-0042
    """
    from peaceland.access import audit as audit_log

    async def work(js: JetStreamContext) -> str:
        actor = audit_log.cli_actor()
        store = await TokenStore.open(js)
        token, _ = await store.create(name, Role(role), created_by=actor, drone_id=drone_id)
        await audit_log.record(js, audit_log.entry(actor, "operator", "token.create", name))
        return token

    click.echo(_on_nats(data_dir, work))


@token_group.command("list")
@DATA_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def token_list_command(data_dir: Path | None, as_json: bool) -> None:
    """The tokens: name, role, who created them and when (never the tokens)."""

    async def work(js: JetStreamContext) -> list[TokenRecord]:
        return await (await TokenStore.open(js)).records()

    records = _on_nats(data_dir, work)
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(records)).decode())
        return
    for r in records:
        bound = f"  drone {r.drone_id}" if r.drone_id else ""
        click.echo(f"{r.name:<24} {r.role:<11} {r.created_at}  by {r.created_by}{bound}")
    if not records:
        click.echo("no tokens; create one with `peaceland token create --role ROLE NAME`")


@token_group.command("revoke")
@DATA_DIR_OPTION
@click.argument("name")
def token_revoke_command(data_dir: Path | None, name: str) -> None:
    """Revoke a token by name: refused everywhere within seconds."""
    from peaceland.access import audit as audit_log

    async def work(js: JetStreamContext) -> TokenRecord:
        record = await (await TokenStore.open(js)).revoke(name)
        item = audit_log.entry(audit_log.cli_actor(), "operator", "token.revoke", name)
        await audit_log.record(js, item)
        return record

    record = _on_nats(data_dir, work)
    click.echo(f"revoked {record.name} ({record.role})")


@click.command("audit")
@DATA_DIR_OPTION
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def audit_command(data_dir: Path | None, limit: int, as_json: bool) -> None:
    """The audit log of officer actions, newest first."""
    from peaceland.access import audit as audit_log

    async def work(js: JetStreamContext) -> list[audit_log.AuditEntry]:
        return await audit_log.recent(js, limit)

    entries = _on_nats(data_dir, work)
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(entries)).decode())
        return
    for e in entries:
        click.echo(
            f"{e.at}  {e.action:<17} {e.target:<28} {e.outcome:<3} by {e.actor} ({e.role})"
            + (f" from {e.remote}" if e.remote else "")
        )


COMMANDS = (drone_group, token_group, audit_command)
