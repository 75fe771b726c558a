"""Each security control of docs/security.md, proved against real servers.

NATS: no anonymous client; the fleet only publishes reports; an enrolled drone publishes only
on its own subject and subscribes only to its own inbox; MQTT shares those users.
HTTP: 401 without or with a bad token, 403 for a weaker role, tokens stored as hashes only,
officer actions in an append-only audit log. Secrets: files 0600, never printed or logged.
"""

from __future__ import annotations

import asyncio
import json
import stat
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote, urlsplit

import msgspec
import nats
import nats.errors
import pytest
from aiohttp import ClientSession
from nats.aio.client import Client as NatsClient
from nats.js.errors import APIError

from mqtt_helpers import mqtt_close, mqtt_connect
from peaceland.access import Role
from peaceland.access.audit import recent
from peaceland.access.roles import token_hash
from peaceland.access.tokens import BUCKET as TOKENS_BUCKET
from peaceland.contract import AUDIT_STREAM, REPORTS_STREAM
from peaceland.stream import connect_once, redact

pytestmark = pytest.mark.slow


def report(drone: str, minute: int = 0) -> bytes:
    body = {
        "drone_id": drone,
        "ts": f"2026-11-28T10:{minute:02d}:00Z",
        "lat": 48.85,
        "lon": 2.35,
        "citizens": [],
        "words": ["calm"],
    }
    return json.dumps(body).encode()


class Violations:
    """Collects the permission errors the server sends a client (``error_cb=v.record``)."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    async def record(self, exc: Exception) -> None:
        self.errors.append(str(exc))

    async def wait_for(self, text: str, timeout: float = 3.0) -> str:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            found = [e for e in self.errors if text in e.lower()]
            if found:
                return found[0]
            await asyncio.sleep(0.05)
        raise AssertionError(f"no error containing {text!r}; got {self.errors}")


async def count_on(nc: NatsClient, subject: str) -> int:
    info = await nc.jetstream().stream_info(REPORTS_STREAM, subjects_filter=subject)
    return sum((info.state.subjects or {}).values())


def bare_url(url: str) -> str:
    return redact(url)


async def refused(url: str, **options: Any) -> str:
    """Connect expecting a refusal; the error's text ("" if the connection was accepted)."""
    try:
        nc = await connect_once(url, allow_reconnect=False, max_reconnect_attempts=1, **options)
    except nats.errors.Error as exc:
        return str(exc)
    await nc.close()
    return ""


# -- NATS ---------------------------------------------------------------------------------------


async def test_anonymous_and_wrong_password_clients_are_refused(stack: Any) -> None:
    address = bare_url(stack.state.nats_url)
    for url in (address, address.replace("nats://", "nats://peaceland:wrong@")):
        assert "Authorization Violation" in await refused(url)


async def test_the_fleet_publishes_reports_and_nothing_else(stack: Any) -> None:
    errors = Violations()
    fleet = await nats.connect(stack.state.drone_nats_url, error_cb=errors.record)
    service = await nats.connect(stack.state.nats_url)
    drone = "fleet-" + uuid.uuid4().hex[:8]
    try:
        ack = await fleet.jetstream().publish(f"peaceland.reports.{drone}", report(drone))
        assert ack.stream == REPORTS_STREAM
        await fleet.publish(f"peaceland.alerts.{drone}", b"{}")
        await errors.wait_for('publish to "peaceland.alerts.')
        await fleet.subscribe("peaceland.>")
        await errors.wait_for('subscription to "peaceland.>"')
        # no JetStream API: the fleet cannot read, delete or reconfigure streams
        with pytest.raises(nats.errors.TimeoutError):
            await fleet.jetstream(timeout=1.0).stream_info(REPORTS_STREAM)
        await errors.wait_for("$js.api.stream.info")
        # nor services' replies
        await fleet.subscribe("_PEACELAND_INBOX.>")
        await errors.wait_for('subscription to "_peaceland_inbox.>"')
        alerts = await service.jetstream().stream_info(
            "ALERTS", subjects_filter=f"peaceland.alerts.{drone}"
        )
        assert not alerts.state.subjects
    finally:
        await fleet.close()
        await service.close()


@pytest.fixture
async def enrolled(stack: Any) -> dict[str, Any]:
    drone = "enr-" + uuid.uuid4().hex[:8]
    done = stack.cli("drone", "enroll", drone, "--json")
    assert done.returncode == 0, done.stderr
    credentials: dict[str, Any] = json.loads(done.stdout)
    return credentials


async def test_an_enrolled_drone_publishes_only_on_its_own_subject(
    stack: Any, enrolled: dict[str, Any]
) -> None:
    drone = enrolled["drone_id"]
    errors = Violations()
    nc = await nats.connect(
        enrolled["nats_url"], inbox_prefix=enrolled["inbox_prefix"], error_cb=errors.record
    )
    service = await nats.connect(stack.state.nats_url)
    other = "victim-" + uuid.uuid4().hex[:8]
    try:
        ack = await nc.jetstream().publish(enrolled["subject"], report(drone))
        assert ack.stream == REPORTS_STREAM
        assert await count_on(service, f"peaceland.reports.{drone}") == 1
        # impersonation: another drone's subject is refused and nothing is stored
        await nc.publish(f"peaceland.reports.{other}", report(other))
        await errors.wait_for(f'publish to "peaceland.reports.{other}"')
        await asyncio.sleep(0.3)
        assert await count_on(service, f"peaceland.reports.{other}") == 0
        # no listening: neither reports nor other clients' inboxes
        for subject in ("peaceland.reports.>", "_INBOX.>", "peaceland.alerts.>"):
            await nc.subscribe(subject)
            await errors.wait_for(f'subscription to "{subject.lower()}"')
    finally:
        await nc.close()
        await service.close()


async def test_a_drone_without_its_inbox_prefix_gets_no_acknowledgements(
    enrolled: dict[str, Any],
) -> None:
    errors = Violations()
    nc = await nats.connect(enrolled["nats_url"], error_cb=errors.record)  # default "_INBOX" prefix
    try:
        with pytest.raises(nats.errors.TimeoutError):
            await nc.jetstream().publish(enrolled["subject"], b"{}", timeout=1.0)
        await errors.wait_for("subscription to")
    finally:
        await nc.close()


async def test_enrolling_again_replaces_the_password(stack: Any, enrolled: dict[str, Any]) -> None:
    again = stack.cli("drone", "enroll", enrolled["drone_id"], "--json")
    assert again.returncode == 0, again.stderr
    fresh = json.loads(again.stdout)
    assert fresh["password"] != enrolled["password"]
    for _ in range(50):  # the server reloads its configuration on SIGHUP
        if "Authorization Violation" in await refused(enrolled["nats_url"]):
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the old password still works")
    nc = await nats.connect(fresh["nats_url"], inbox_prefix=fresh["inbox_prefix"])
    await nc.close()
    users = (stack.data_dir / "nats" / "users.json").read_text()
    assert fresh["password"] not in users  # only the hash is kept


@pytest.mark.parametrize("bad", ["a.b", "x>", "with space"])
def test_enrolling_an_invalid_drone_id_is_refused(stack: Any, bad: str) -> None:
    done = stack.cli("drone", "enroll", bad)
    assert done.returncode == 1
    assert "invalid drone id" in done.stderr


async def test_mqtt_refuses_anonymous_clients_and_accepts_drone_users(
    stack: Any, enrolled: dict[str, Any]
) -> None:
    anonymous, code = await asyncio.to_thread(mqtt_connect, stack.state.mqtt_url, None, None)
    mqtt_close(anonymous)
    assert code != 0  # "not authorized"
    client, code = await asyncio.to_thread(
        mqtt_connect, stack.state.mqtt_url, enrolled["user"], enrolled["password"]
    )
    try:
        assert code == 0
        drone = enrolled["drone_id"]
        info = client.publish(f"peaceland/reports/{drone}", report(drone, 1), qos=1)
        await asyncio.to_thread(info.wait_for_publish, 10)
        service = await nats.connect(stack.state.nats_url)
        try:
            for _ in range(50):
                if await count_on(service, f"peaceland.reports.{drone}") >= 1:
                    break
                await asyncio.sleep(0.1)
            assert await count_on(service, f"peaceland.reports.{drone}") >= 1
        finally:
            await service.close()
    finally:
        mqtt_close(client)


def test_credentials_files_are_private_and_hold_no_plain_password_in_nats_conf(
    stack: Any,
) -> None:
    for name in ("services.json", "nats/users.json", "nats/nats.conf", "weed/s3.json"):
        mode = stat.S_IMODE((stack.data_dir / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    users = json.loads((stack.data_dir / "nats" / "users.json").read_text())
    conf = (stack.data_dir / "nats" / "nats.conf").read_text()
    for role in ("service", "fleet"):
        assert users[role]["password"] not in conf
        assert users[role]["password_hash"] in conf


def test_up_and_status_never_print_passwords_and_logs_hold_none(stack: Any) -> None:
    users = json.loads((stack.data_dir / "nats" / "users.json").read_text())
    secrets = [users["service"]["password"], users["fleet"]["password"]]
    secrets.append(stack.state.s3_secret_key)
    for args in (("up",), ("status",), ("status", "--json")):
        done = stack.cli(*args)
        assert done.returncode == 0, done.stderr
        for secret in secrets:
            assert secret not in done.stdout + done.stderr
    for log in (stack.data_dir / "logs").glob("*.log"):
        text = log.read_text(errors="replace")
        for secret in secrets:
            assert secret not in text, log


# -- HTTP ---------------------------------------------------------------------------------------


class Api:
    def __init__(self, url: str, http: ClientSession) -> None:
        self.url = url
        self.http = http

    async def call(
        self, method: str, path: str, token: str | None = None, body: Any = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = None if body is None else msgspec.json.encode(body)
        async with self.http.request(method, self.url + path, headers=headers, data=data) as resp:
            text = await resp.text()
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text


@pytest.fixture
async def api(stack: Any) -> AsyncIterator[Api]:
    async with stack.serve_app(body_limit=1 << 20) as served:
        yield Api(served.url, served.http)


API_ROUTES = [
    ("GET", "/api/v1/alerts"),
    ("GET", "/api/v1/incidents"),
    ("GET", "/api/v1/stats"),
    ("GET", "/api/v1/drones/active"),
    ("POST", "/api/v1/reports"),
    ("POST", "/api/v1/incidents/nope/ack"),
    ("GET", "/api/v1/tokens"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/nothing-here"),
]


async def test_every_api_route_answers_401_without_a_valid_token(api: Api) -> None:
    for method, path in API_ROUTES:
        for token in (None, "plt_not-a-real-token"):
            status, body = await api.call(method, path, token)
            assert status == 401, (method, path, token, body)
            assert "token" in body["error"]
    status, body = await api.call("GET", "/healthz")
    assert status == 200


#: (method, path, body) → the roles allowed; the others get 403.
ROLE_MATRIX: list[tuple[str, str, Any, set[Role]]] = [
    ("POST", "/api/v1/reports", [], {Role.DRONE, Role.ADMIN}),
    ("GET", "/api/v1/alerts", None, {Role.VIEWER, Role.DISPATCHER, Role.ADMIN}),
    ("GET", "/api/v1/stats", None, {Role.VIEWER, Role.DISPATCHER, Role.ADMIN}),
    ("POST", "/api/v1/incidents/nope/ack", {"by": "x"}, {Role.DISPATCHER, Role.ADMIN}),
    ("POST", "/api/v1/incidents/nope/resolve", {"by": "x"}, {Role.DISPATCHER, Role.ADMIN}),
    ("GET", "/api/v1/tokens", None, {Role.ADMIN}),
    ("GET", "/api/v1/audit", None, {Role.ADMIN}),
    ("POST", "/api/v1/sql", {"sql": "SELECT 1"}, {Role.ADMIN}),
]


@pytest.mark.parametrize(("method", "path", "body", "allowed"), ROLE_MATRIX)
async def test_weaker_roles_get_403(
    stack: Any, api: Api, method: str, path: str, body: Any, allowed: set[Role]
) -> None:
    for role in Role:
        status, answer = await api.call(method, path, stack.token(role.value), body)
        if role in allowed:
            assert status not in (401, 403), (role, status, answer)
        else:
            assert status == 403, (role, status, answer)
            assert f"the {role.value} role may not" in answer["error"]


async def test_tokens_created_over_http_work_until_revoked_and_are_audited(
    stack: Any, api: Api
) -> None:
    admin = stack.token("admin")
    name = "desk-" + uuid.uuid4().hex[:6]
    status, created = await api.call(
        "POST", "/api/v1/tokens", admin, {"name": name, "role": "viewer"}
    )
    assert status == 201, created
    token = created["token"]
    assert (await api.call("GET", "/api/v1/alerts", token))[0] == 200
    status, again = await api.call("POST", "/api/v1/tokens", admin, {"name": name, "role": "admin"})
    assert status == 422
    assert "exists" in again["error"]
    status, listed = await api.call("GET", "/api/v1/tokens", admin)
    assert {"name": name, "role": "viewer"}.items() <= next(
        t for t in listed["tokens"] if t["name"] == name
    ).items()
    assert token not in json.dumps(listed)
    assert (await api.call("DELETE", f"/api/v1/tokens/{name}", admin))[0] == 200
    assert (await api.call("GET", "/api/v1/alerts", token))[0] == 401
    status, audit = await api.call("GET", "/api/v1/audit?limit=20", admin)
    actions = [(e["action"], e["target"], e["actor"]) for e in audit["entries"]]
    assert ("token.create", name, "test-admin") in actions
    assert ("token.revoke", name, "test-admin") in actions


async def test_cli_token_create_prints_the_token_alone_and_stores_only_its_hash(
    stack: Any,
) -> None:
    name = "script-" + uuid.uuid4().hex[:6]
    done = stack.cli("token", "create", "--role", "dispatcher", name)
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert done.stdout == token + "\n"
    assert token.startswith("plt_")
    nc = await nats.connect(stack.state.nats_url)
    try:
        kv = await nc.jetstream().key_value(TOKENS_BUCKET)
        entry = await kv.get(token_hash(token))
        assert entry.value is not None
        record = json.loads(entry.value)
        assert record["name"] == name
        assert record["role"] == "dispatcher"
        for key in await kv.keys():
            value = (await kv.get(key)).value or b""
            assert token.encode() not in value
            assert token not in key
        entries = await recent(nc.jetstream(), 20)
        assert any(e.action == "token.create" and e.target == name for e in entries)
    finally:
        await nc.close()
    listed = stack.cli("token", "list", "--json")
    assert name in [t["name"] for t in json.loads(listed.stdout)]
    revoked = stack.cli("token", "revoke", name)
    assert revoked.returncode == 0
    assert f"revoked {name} (dispatcher)" in revoked.stdout


async def test_the_audit_stream_refuses_deletes_and_purges(stack: Any) -> None:
    nc = await nats.connect(stack.state.nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(AUDIT_STREAM)
        assert info.config.deny_delete
        assert info.config.deny_purge
        if info.state.last_seq:
            with pytest.raises(APIError):
                await js.delete_msg(AUDIT_STREAM, info.state.last_seq)
        with pytest.raises(APIError):
            await js.purge_stream(AUDIT_STREAM)
        after = await js.stream_info(AUDIT_STREAM)
        assert after.state.messages == info.state.messages
    finally:
        await nc.close()


def test_drone_credentials_url_has_the_fleet_user(stack: Any) -> None:
    parts = urlsplit(stack.state.drone_nats_url)
    assert unquote(parts.username or "") == "fleet"
    assert urlsplit(stack.state.nats_url).username == "peaceland"


async def test_a_drone_token_bound_to_one_drone_cannot_send_for_another(
    stack: Any, api: Api
) -> None:
    drone = "bound-" + uuid.uuid4().hex[:6]
    other = "other-" + uuid.uuid4().hex[:6]
    status, created = await api.call(
        "POST",
        "/api/v1/tokens",
        stack.token("admin"),
        {"name": drone, "role": "drone", "drone_id": drone},
    )
    assert status == 201, created
    token = created["token"]
    body = [json.loads(report(drone, 2)), json.loads(report(other, 2))]
    status, answer = await api.call("POST", "/api/v1/reports", token, body)
    assert status == 202, answer
    assert answer["accepted"] == 1
    assert answer["errors"] == [
        {"index": 1, "error": f"drone_id {other!r} is not this sender's drone {drone!r}"}
    ]
    status, answer = await api.call(
        "POST",
        "/api/v1/tokens",
        stack.token("admin"),
        {"name": drone + "-v", "role": "viewer", "drone_id": drone},
    )
    assert status == 422
    assert "only a drone token" in answer["error"]


async def test_a_dashboard_session_is_its_own_token_ended_by_logout_or_revocation(
    stack: Any, api: Api
) -> None:
    admin = stack.token("admin")
    name = "officer-" + uuid.uuid4().hex[:6]
    _, created = await api.call("POST", "/api/v1/tokens", admin, {"name": name, "role": "viewer"})
    token = created["token"]

    async def login() -> str:
        async with api.http.post(api.url + "/api/v1/session", json={"token": token}) as resp:
            assert resp.status == 200, await resp.text()
            morsel = resp.cookies["peaceland_session"]
            assert morsel["httponly"]
            assert morsel["secure"]
            assert morsel["samesite"] == "Strict"
            return morsel.value

    async def with_cookie(method: str, path: str, session: str, **headers: str) -> int:
        cookie = {"Cookie": f"peaceland_session={session}", **headers}
        async with api.http.request(method, api.url + path, headers=cookie) as resp:
            return resp.status

    session = await login()
    assert session != token  # the API token never sits in a cookie
    assert await with_cookie("GET", "/api/v1/alerts", session) == 200
    assert await with_cookie("GET", "/api/v1/tokens", session) == 403  # the token's role
    # a change authenticated by the cookie must come from the same origin
    foreign = {"Origin": "https://evil.example"}
    assert await with_cookie("POST", "/api/v1/incidents/x/ack", session, **foreign) == 403
    # logout ends the session, not the token
    assert await with_cookie("DELETE", "/api/v1/session", session) == 200
    assert await with_cookie("GET", "/api/v1/alerts", session) == 401
    assert (await api.call("GET", "/api/v1/alerts", token))[0] == 200
    # revoking the token ends its other sessions too
    second = await login()
    assert (await api.call("DELETE", f"/api/v1/tokens/{name}", admin))[0] == 200
    assert await with_cookie("GET", "/api/v1/alerts", second) == 401
    # sessions are not listed as tokens
    _, listed = await api.call("GET", "/api/v1/tokens", admin)
    assert name not in [t["name"] for t in listed["tokens"]]


async def test_a_drone_token_cannot_open_a_dashboard_session(stack: Any, api: Api) -> None:
    async with api.http.post(
        api.url + "/api/v1/session", json={"token": stack.token("drone")}
    ) as resp:
        assert resp.status == 403
        assert "peaceland_session" not in resp.cookies
