"""Incidents against a real nats-server: the builder in the web app groups alerts in the
INCIDENTS bucket; officers move them through their lifecycle over HTTP and the CLI."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from alert_helpers import (
    Web,
    builder_for,
    eventually,
    make_alert,
    publish_alert,
    unique_drone,
    web_app,
)
from peaceland.contract import ALERTS_STREAM

pytestmark = pytest.mark.slow


def citizen() -> str:
    return f"Éponine Thénardier {uuid.uuid4().hex[:8]}"


@pytest.fixture
def drone() -> str:
    return unique_drone("in")


@pytest.fixture
async def web(stack: Any, drone: str) -> AsyncIterator[Web]:
    async with web_app(stack, builder_for(drone)) as running:
        yield running


async def incident_of(web: Web, name: str, count: int = 1, **params: str) -> dict[str, Any]:
    """The citizen's newest incident once it counts ``count`` alerts."""

    async def check() -> dict[str, Any] | None:
        status, body = await web.get("/api/v1/incidents", limit="1000", **params)
        assert status == 200
        mine = [i for i in body["incidents"] if i["citizen"] == name]
        return mine[0] if mine and mine[0]["count"] >= count else None

    found: dict[str, Any] = await eventually(check)
    return found


async def test_alerts_of_one_citizen_group_into_one_incident_until_resolved(
    web: Web, drone: str
) -> None:
    name = citizen()
    seqs = [
        await publish_alert(web.js, make_alert(drone, n, name, score))
        for n, score in enumerate([15, 2, 9])
    ]
    incident = await incident_of(web, name, 3)
    assert incident["count"] == 3
    assert incident["status"] == "open"
    assert incident["severity"] == "critical"
    assert incident["peacescore"] == 2
    assert (incident["first_seq"], incident["last_seq"]) == (seqs[0], seqs[2])
    assert incident["alert_ids"] == [make_alert(drone, n).alert_id for n in range(3)]
    last = make_alert(drone, 2)
    assert (incident["lat"], incident["lon"], incident["drone_id"]) == (last.lat, last.lon, drone)
    assert incident["first_seen"] == "2026-11-28T10:00:00Z"
    assert incident["last_seen"] == "2026-11-28T10:00:02Z"
    iid = incident["incident_id"]

    status, acked = await web.post(
        f"/api/v1/incidents/{iid}/ack", {"by": "Inspecteur Javert", "note": "en route"}
    )
    assert status == 200
    assert acked["status"] == "acknowledged"
    assert acked["acknowledged"]["by"] == "Inspecteur Javert"
    assert acked["acknowledged"]["note"] == "en route"
    # Alerts list shows the lifecycle too.
    status, listed = await web.get("/api/v1/alerts", since="1m", status="acknowledged")
    assert [a["seq"] for a in listed["alerts"] if a["drone_id"] == drone] == seqs[::-1]
    assert {a["incident_id"] for a in listed["alerts"] if a["drone_id"] == drone} == {iid}

    # A 4th alert while acknowledged still attaches: no new page.
    await publish_alert(web.js, make_alert(drone, 3, name))
    assert (await incident_of(web, name, 4))["incident_id"] == iid

    status, resolved = await web.post(f"/api/v1/incidents/{iid}/resolve", {"by": "Javert"})
    assert (status, resolved["status"]) == (200, "resolved")
    status, again = await web.post(f"/api/v1/incidents/{iid}/resolve", {"by": "Javert"})
    assert status == 409
    assert "already resolved by Javert" in again["error"]
    status, late_ack = await web.post(f"/api/v1/incidents/{iid}/ack", {"by": "Valjean"})
    assert status == 409
    assert "cannot be acknowledged" in late_ack["error"]

    # After resolve, a new alert opens a new incident; the old one is still there.
    await publish_alert(web.js, make_alert(drone, 4, name))
    newer = await incident_of(web, name, 1, status="open")
    assert newer["incident_id"] != iid
    assert newer["incident_id"].endswith("-2")
    assert newer["count"] == 1
    status, old = await web.get(f"/api/v1/incidents/{iid}")
    assert (status, old["status"], old["count"]) == (200, "resolved", 4)
    status, body = await web.get("/api/v1/incidents", status="resolved", limit="1000")
    assert iid in [i["incident_id"] for i in body["incidents"]]


async def test_redelivered_and_replayed_alerts_are_counted_once(
    stack: Any, web: Web, drone: str
) -> None:
    name = citizen()
    alert = make_alert(drone, 0, name)
    await publish_alert(web.js, alert)
    # The same alert again under another message id: past the stream's dedup window.
    await publish_alert(web.js, alert, msg_id=alert.alert_id + "#again")
    await publish_alert(web.js, make_alert(drone, 1, name))
    incident = await incident_of(web, name, 2)
    # A second builder from the start of the stream (a lost consumer, a new durable) replays
    # every alert: nothing is counted twice.
    replay = f"replay-{drone}"
    async with web_app(stack, builder_for(drone, replay)) as other:

        async def replayed() -> bool:
            info = await other.js.consumer_info(ALERTS_STREAM, replay)
            return (info.num_pending, info.num_ack_pending, info.num_redelivered) == (0, 0, 0) and (
                info.delivered is not None and info.delivered.consumer_seq == 3
            )

        await eventually(replayed)
    assert (await incident_of(web, name, 2))["count"] == incident["count"] == 2


async def test_unknown_ids_and_bad_bodies_are_4xx(web: Web, drone: str) -> None:
    name = citizen()
    await publish_alert(web.js, make_alert(drone, 0, name))
    iid = (await incident_of(web, name))["incident_id"]
    key = iid.rsplit("-", 1)[0]
    for unknown in [f"{key}-7", "0000000000000000-1", "not-an-id"]:
        status, body = await web.post(f"/api/v1/incidents/{unknown}/ack", {"by": "J"})
        assert (status, body["error"]) == (404, f"no incident {unknown!r}")
        status, _ = await web.get(f"/api/v1/incidents/{unknown}")
        assert status == 404
    cases: list[tuple[bytes, int, str]] = [
        (b"{not json", 400, "not JSON"),
        (b"", 400, "not JSON"),
        (b"{}", 422, "by"),
        (b'{"by": ""}', 422, "by"),
        (b'{"by": "J", "colour": "red"}', 422, "colour"),
        (b'["J"]', 422, "invalid request"),
    ]
    for body_bytes, code, text in cases:
        status, body = await web.post(f"/api/v1/incidents/{iid}/resolve", body_bytes)
        assert status == code, (body_bytes, body)
        assert text in body["error"]
    status, body = await web.get("/api/v1/incidents", status="closed")
    assert status == 400
    assert "status must be among" in body["error"]
    status, body = await web.get(f"/api/v1/incidents/{iid}")
    assert body["status"] == "open"  # nothing above changed it


async def test_cli_ack_resolve_incidents_and_tail(stack: Any, web: Web, drone: str) -> None:
    name = citizen()
    for n in range(2):
        await publish_alert(web.js, make_alert(drone, n, name))
    iid = (await incident_of(web, name, 2))["incident_id"]

    done = stack.cli("alerts", "ack", iid, "--by", "Javert", "--note", "on it")
    assert done.returncode == 0, done.stderr
    assert f"incident {iid} acknowledged by Javert" in done.stdout
    listed = stack.cli("alerts", "incidents", "--status", "acknowledged", "--json")
    assert iid in [i["incident_id"] for i in json.loads(listed.stdout)]
    done = stack.cli("alerts", "resolve", iid, "--by", "Javert")
    assert done.returncode == 0, done.stderr
    again = stack.cli("alerts", "resolve", iid, "--by", "Javert")
    assert again.returncode == 1
    assert "already resolved by Javert" in again.stderr
    missing = stack.cli("alerts", "ack", "nope")
    assert (missing.returncode, missing.stderr.strip()) == (1, "error: no incident 'nope'")

    tail = stack.cli("alerts", "tail", "--since", "5m", "--drone", drone, "--count", "2", "--json")
    assert tail.returncode == 0, tail.stderr
    lines = tail.stdout.splitlines()
    assert [json.loads(line)["alert_id"] for line in lines] == [
        make_alert(drone, n).alert_id for n in range(2)
    ]
    pretty = stack.cli("alerts", "tail", "--since", "5m", "--drone", drone, "--count", "1")
    assert pretty.returncode == 0, pretty.stderr
    assert name in pretty.stdout
    assert "CRITICAL" in pretty.stdout
    assert drone in pretty.stdout
