"""Who may do what on the embedded NATS server: users, roles and their subject permissions.

Roles (least privilege; nothing is open to anonymous clients):

* ``service`` — the gateway, alerter, archiver, webhooks and the CLI: Peaceland's subjects,
  the JetStream and KV APIs, and reply inboxes. Services take their replies on a private
  inbox prefix (``SERVICE_INBOX_PREFIX``) that no drone may subscribe to.
* ``fleet`` — publishes reports for any drone (the simulator, tests, a trusted relay) on
  ``peaceland.reports.>``; may subscribe to ``_INBOX.>`` only, for JetStream acknowledgements.
* ``drone`` — one enrolled drone: publishes on ``peaceland.reports.<its id>`` only and
  subscribes to ``_INBOX.<its id>.>`` only (its client must use that inbox prefix). The
  alerter also refuses a report whose ``drone_id`` differs from its subject, so a drone can
  speak neither on another's subject nor in another's name.

Officers never get NATS credentials: they go through the HTTP API and its tokens.

Pure: rendering the ``authorization`` block of ``nats.conf`` and building URLs. Passwords are
random (192 bits) and only their bcrypt hashes are written to the server's configuration.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import Iterable, Mapping
from typing import Final
from urllib.parse import quote, urlsplit, urlunsplit

import bcrypt

from peaceland.contract import (
    DEFAULT_INBOX_PREFIX,
    REPORTS_PREFIX,
    SERVICE_INBOX_PREFIX,
    valid_drone_id,
)

SERVICE_USER: Final = "peaceland"
FLEET_USER: Final = "fleet"
DRONE_USER_PREFIX: Final = "drone-"
DRONE_INBOX_ROOT: Final = DEFAULT_INBOX_PREFIX
# The passwords are 192-bit random strings: a slow hash would add nothing against guessing,
# only connection latency (nats-server checks the hash at every connect).
BCRYPT_ROUNDS: Final = 6


@dataclasses.dataclass(frozen=True, slots=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]


SERVICE_PERMISSIONS: Final = Permissions(
    publish=(
        "peaceland.>",
        "$JS.API.>",
        "$JS.ACK.>",
        "$JS.FC.>",
        "$KV.>",
        "_INBOX.>",
        SERVICE_INBOX_PREFIX + ".>",
    ),
    subscribe=("peaceland.>", "$KV.>", "_INBOX.>", SERVICE_INBOX_PREFIX + ".>"),
)
FLEET_PERMISSIONS: Final = Permissions(
    publish=(REPORTS_PREFIX + ">",), subscribe=(DRONE_INBOX_ROOT + ".>",)
)


def drone_user(drone_id: str) -> str:
    return DRONE_USER_PREFIX + drone_id


def drone_inbox_prefix(drone_id: str) -> str:
    """The inbox prefix an enrolled drone's client must use (nats-py: ``inbox_prefix=``)."""
    return f"{DRONE_INBOX_ROOT}.{drone_id}"


def drone_permissions(drone_id: str) -> Permissions:
    if not valid_drone_id(drone_id):
        raise ValueError(f"invalid drone id {drone_id!r}")
    return Permissions(
        publish=(REPORTS_PREFIX + drone_id,), subscribe=(drone_inbox_prefix(drone_id) + ".>",)
    )


def new_password() -> str:
    return secrets.token_urlsafe(24)


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()


@dataclasses.dataclass(frozen=True, slots=True)
class NatsUser:
    """One configured user: the name, the bcrypt hash of its password, what it may do."""

    name: str
    password_hash: str
    permissions: Permissions


def authorization_block(users: Iterable[NatsUser]) -> str:
    """The ``authorization { users: [...] }`` section of ``nats.conf``.

    Values are JSON strings, which the NATS configuration format reads as quoted strings
    (no ``$variable`` expansion inside quotes).
    """
    lines = ["authorization {", "  users: ["]
    for user in users:
        perms = user.permissions
        lines.append(
            "    {"
            f"user: {json.dumps(user.name)}, password: {json.dumps(user.password_hash)}, "
            f"permissions: {{publish: {{allow: {json.dumps(list(perms.publish))}}}, "
            f"subscribe: {{allow: {json.dumps(list(perms.subscribe))}}}}}"
            "}"
        )
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


def with_credentials(url: str, user: str, password: str) -> str:
    """``nats://host:port`` → ``nats://user:password@host:port`` (existing ones replaced)."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def users_for(
    service_password_hash: str,
    fleet_password_hash: str,
    drones: Mapping[str, str],
) -> list[NatsUser]:
    """Every user of the server: service, fleet, then each enrolled drone (id → hash)."""
    users = [
        NatsUser(SERVICE_USER, service_password_hash, SERVICE_PERMISSIONS),
        NatsUser(FLEET_USER, fleet_password_hash, FLEET_PERMISSIONS),
    ]
    users += [
        NatsUser(drone_user(drone_id), hashed, drone_permissions(drone_id))
        for drone_id, hashed in sorted(drones.items())
    ]
    return users
