"""For the browser tests: the product running as an officer's browser sees it, and Chromium.

``Pipeline`` runs ``peaceland gateway``, ``alerter`` and ``archiver`` as subprocesses on a
private stack (the gateway can be stopped and started again on the same port), and seeds it
once with ``peaceland simulate`` so every page has data. Alerts published by a test go straight
to ``ALERTS``, as the alerter publishes them. The stack's API tokens (``test-<role>``) log the
browser in and let the tests ask the API what the server holds.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import nats

from peaceland.alerting.rules import severity
from peaceland.contract import MSG_ID_HEADER, Alert, alert_subject, encode_alert, format_raised_at
from peaceland.servers import free_port

CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS: Final = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
STOP_GRACE_S: Final = 10.0


def get_json(url: str, token: str | None = None, timeout: float = 5.0) -> Any:
    """GET ``url`` as JSON, with ``Authorization: Bearer <token>`` when one is given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as resp:
        return json.loads(resp.read())


def call_json(url: str, method: str, token: str, body: Any = None) -> Any:
    """Another method than GET, with a token; the answer's JSON."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=5.0) as resp:
        return json.loads(resp.read())


def wait_until(check: Any, timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (OSError, urllib.error.URLError, ValueError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)


class Pipeline:
    """The product's long-running components on one stack, as subprocesses."""

    def __init__(
        self, env: dict[str, str], nats_url: str, logs: Path, tokens: dict[str, str]
    ) -> None:
        self.port = free_port()
        self.env = {**env, "PEACELAND_HTTP_PORT": str(self.port), "PEACELAND_ARCHIVE_MAX_AGE": "1"}
        self.nats_url = nats_url
        self.logs = logs
        self.tokens = tokens
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def token(self, role: str) -> str:
        return self.tokens[role]

    def api(self, path: str, role: str = "admin") -> Any:
        """``GET /api/v1/<path>`` with the role's token."""
        return get_json(f"{self.url}/api/v1/{path}", self.tokens[role])

    def incident_of(self, citizen: str) -> dict[str, Any] | None:
        """The server's open or acknowledged incident of ``citizen``, if it has one."""
        listed = self.api("incidents?status=open,acknowledged&limit=1000", "viewer")
        found = [i for i in listed["incidents"] if i["citizen"] == citizen]
        return found[0] if found else None

    def start(self, name: str, *args: str) -> None:
        with (self.logs / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "peaceland", name, *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def start_gateway(self) -> None:
        self.start("gateway")
        wait_until(self.healthy, 30, "gateway /healthz")

    def healthy(self) -> bool:
        proc = self.procs["gateway"]
        if proc.poll() is not None:
            log = (self.logs / "gateway.log").read_text(errors="replace")[-2000:]
            raise AssertionError(f"gateway exited with {proc.returncode}:\n{log}")
        return bool(get_json(self.url + "/healthz", timeout=1.0)["status"] == "ok")

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def simulate(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "peaceland", "simulate", *args],
            env=self.env,
            check=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )


def make_alert(citizen: str, score: int = 3, *, lat: float = 48.8566, lon: float = 2.3522) -> Alert:
    drone = f"bt-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC).replace(microsecond=0)
    report_id = f"{drone}:{now.isoformat().replace('+00:00', 'Z')}"
    return Alert(
        alert_id=f"{report_id}/0",
        report_id=report_id,
        drone_id=drone,
        ts=now,
        lat=lat,
        lon=lon,
        citizen=citizen,
        peacescore=score,
        severity=severity(score),
        words=["émeute", "<script>alert(2)</script>"],
        raised_at=format_raised_at(datetime.now(UTC)),
    )


async def publish_alert(nats_url: str, alert: Alert) -> int:
    """Publish as the alerter does (``Nats-Msg-Id`` = alert_id); the ALERTS sequence."""
    nc = await nats.connect(nats_url)
    try:
        ack = await nc.jetstream().publish(
            alert_subject(alert.drone_id),
            encode_alert(alert),
            headers={MSG_ID_HEADER: alert.alert_id},
        )
        return ack.seq
    finally:
        with contextlib.suppress(Exception):
            await nc.drain()
