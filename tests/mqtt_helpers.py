"""An MQTT 3.1.1 client for the security tests: connect, read the CONNACK, close."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def mqtt_connect(
    url: str, user: str | None, password: str | None, *, ca: Path | None = None
) -> tuple[mqtt.Client, int]:
    """A started client and its CONNACK code (0: accepted; -1: no answer within 5 s); over
    TLS trusting ``ca`` when given, else in clear. Close it with ``mqtt_close``."""
    parts = urlsplit(url)
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id="sec-" + uuid.uuid4().hex[:8],
        protocol=mqtt.MQTTv311,
    )
    if user is not None:
        client.username_pw_set(user, password)
    if ca is not None:
        client.tls_set(ca_certs=str(ca))
    codes: list[int] = []
    client.on_connect = lambda c, u, flags, reason, props: codes.append(reason.value)
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    client.loop_start()
    for _ in range(100):
        if codes:
            break
        time.sleep(0.05)
    return client, codes[0] if codes else -1


def mqtt_close(client: mqtt.Client) -> None:
    """Stop the client and close its socket, also after a refused connection."""
    client.disconnect()
    client.loop_stop()
    sock = client.socket()
    if sock is not None:
        sock.close()
