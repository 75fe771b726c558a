"""The pull request body and the re-creation backoff, without a server."""

from __future__ import annotations

import msgspec

from peaceland.stream.consumer.request import ENSURE_BACKOFF_S, Backoff, pull_request


def test_a_pull_request_carries_times_in_nanoseconds_and_leaves_zero_fields_out() -> None:
    assert msgspec.json.decode(pull_request(10, 0.5)) == {"batch": 10, "expires": 500_000_000}
    body = msgspec.json.decode(pull_request(3, 30.0, max_bytes=1024, heartbeat_s=5.0))
    assert body == {
        "batch": 3,
        "expires": 30_000_000_000,
        "max_bytes": 1024,
        "idle_heartbeat": 5_000_000_000,
    }


def test_backoff_doubles_to_its_cap_and_resets_on_success() -> None:
    now = [100.0]
    backoff = Backoff(clock=lambda: now[0])
    assert ENSURE_BACKOFF_S == (0.1, 2.0)
    waits = []
    for _ in range(7):
        assert backoff.ready()
        assert not backoff.ready()  # too soon
        waits.append(round(backoff.remaining(), 3))
        now[0] += backoff.remaining()
    assert waits == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    backoff.reset()
    assert backoff.ready()
    assert round(backoff.remaining(), 3) == 0.1
