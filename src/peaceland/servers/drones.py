"""``peaceland drone enroll``: a NATS user of its own for one drone, on every NATS node.

Only the password's hash is kept (``D/nats/users.json``); the running servers reload their
configuration (SIGHUP) and the enrolment returns once each node accepts the new user.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import time

from peaceland.access import (
    drone_inbox_prefix,
    drone_user,
    hash_password,
    new_password,
    with_credentials,
)
from peaceland.config import ServicesState, Settings
from peaceland.contract import ConfigError, NotRunningError, report_subject, valid_drone_id
from peaceland.servers import cluster, embedded, processes
from peaceland.servers.layout import NATS, Layout
from peaceland.stream import wait_nats_login

log = logging.getLogger(__name__)

# How long nats-server may take to apply a reloaded configuration (a new drone user).
RELOAD_TIMEOUT_S = 10.0
LOCK_TIMEOUT_S = 120.0


@dataclasses.dataclass(frozen=True, slots=True)
class DroneCredentials:
    """What ``peaceland drone enroll`` hands to one drone (shown once, never stored)."""

    drone_id: str
    user: str
    password: str
    nats_url: str
    inbox_prefix: str
    subject: str
    mqtt_url: str | None


def enroll_drone(settings: Settings, drone_id: str) -> DroneCredentials:
    """Give ``drone_id`` its own NATS user (a new password if it was enrolled before) and
    reload the running server's configuration; only the password's hash is kept."""
    if not valid_drone_id(drone_id):
        raise ConfigError(f"invalid drone id {drone_id!r}: 1-64 of A-Z a-z 0-9 _ -")
    if settings.nats_url:
        raise ConfigError(
            "NATS is external (PEACELAND_NATS_URL): add the drone's user to that server's "
            "configuration; docs/security.md lists the permissions a drone needs"
        )
    layout = Layout.of(settings)
    with processes.exclusive_lock(layout.root / ".lock", LOCK_TIMEOUT_S):
        state = embedded.read_state(layout)
        if state is None:
            raise NotRunningError(f"NATS is not running in {layout.root}; run `peaceland up`")
        users = embedded.nats_users(layout)
        password = new_password()
        drones = {**users.drones, drone_id: hash_password(password)}
        embedded.write_nats_users(layout, dataclasses.replace(users, drones=drones))
        addresses, reloaded = _reload_users(settings, layout, state)
    user = drone_user(drone_id)
    deadline = time.monotonic() + RELOAD_TIMEOUT_S
    for address in reloaded:  # each node applies its reloaded configuration on its own
        login = with_credentials(address, user, password)
        wait_nats_login(login, deadline=deadline, tls_ca=settings.nats_tls_ca)
    url = ",".join(with_credentials(address, user, password) for address in addresses)
    log.info("enrolled drone %s (NATS user %s)", drone_id, user)
    return DroneCredentials(
        drone_id=drone_id,
        user=user,
        password=password,
        nats_url=url,
        inbox_prefix=drone_inbox_prefix(drone_id),
        subject=report_subject(drone_id),
        mqtt_url=state.mqtt_url,
    )


def _reload_users(
    settings: Settings, layout: Layout, state: ServicesState
) -> tuple[list[str], list[str]]:
    """Rewrite the NATS configuration(s) and SIGHUP: nats-server reloads its users. Returns
    every node's address and those of the nodes reloaded."""
    if cluster.nodes_of(layout):
        return cluster.reload_users(layout, state, settings)
    pid = embedded.find(layout, NATS, state)
    if pid is None:
        raise NotRunningError(f"NATS is not running in {layout.root}; run `peaceland up`")
    tls = embedded.ServerTls.of(settings)
    embedded.write_nats_config(layout, state.ports, embedded.nats_users(layout), tls)
    processes.signal_all([pid], signal.SIGHUP)
    address = embedded.nats_url(state.ports, tls=settings.nats_tls_cert is not None)
    return [address], [address]
