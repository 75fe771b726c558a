"""MQTT 3.1.1 clients publishing to peaceland/reports/<drone_id> land in REPORTS."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any
from urllib.parse import unquote, urlsplit

import nats
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from peaceland.contract import REPORTS_STREAM

pytestmark = pytest.mark.slow


def publish_over_mqtt(url: str, topic: str, payloads: list[bytes], credentials_url: str) -> None:
    """Publish with QoS 1 as the user of ``credentials_url`` (MQTT shares NATS's users)."""
    parts = urlsplit(url)
    creds = urlsplit(credentials_url)
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id="test-" + uuid.uuid4().hex[:8],
        protocol=mqtt.MQTTv311,
    )
    client.username_pw_set(unquote(creds.username or ""), unquote(creds.password or ""))
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for payload in payloads]
        for info in infos:
            info.wait_for_publish(timeout=10)
            assert info.is_published()
    finally:
        client.disconnect()
        client.loop_stop()


async def test_mqtt_reports_land_in_the_reports_stream(stack: Any) -> None:
    drone = "mq-" + uuid.uuid4().hex[:10]
    payloads = [
        json.dumps(
            {
                "drone_id": drone,
                "ts": f"2026-11-28T11:{minute:02d}:00Z",
                "lat": 45.0,
                "lon": 5.0,
                "citizens": [],
                "words": ["mqtt"],
            }
        ).encode()
        for minute in range(5)
    ]
    assert stack.state.mqtt_url
    await asyncio.to_thread(
        publish_over_mqtt,
        stack.state.mqtt_url,
        f"peaceland/reports/{drone}",
        payloads,
        stack.state.drone_nats_url,
    )
    nc = await nats.connect(stack.endpoints.nats_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(REPORTS_STREAM, subjects_filter=f"peaceland.reports.{drone}")
        assert sum((info.state.subjects or {}).values()) == 5
        last = await js.get_last_msg(REPORTS_STREAM, f"peaceland.reports.{drone}")
        assert last.data == payloads[-1]
    finally:
        await nc.drain()
