"""What is sent again through a leader election, and for how long (no server needed)."""

from __future__ import annotations

import pytest
from nats.errors import NoRespondersError
from nats.js.errors import APIError, NoStreamResponseError, ServiceUnavailableError

from peaceland.stream.retry import ERR_BATCH_INCOMPLETE, Backoff, may_resend, until_stored


def test_only_what_cannot_be_stored_twice_is_sent_again() -> None:
    for nothing_stored in (
        NoStreamResponseError(),
        NoRespondersError(),
        ServiceUnavailableError(code=503),
        APIError(code=400, err_code=ERR_BATCH_INCOMPLETE),
    ):
        assert may_resend(nothing_stored, deduplicated=False)
    assert may_resend(TimeoutError(), deduplicated=True)  # a second copy is a duplicate
    assert not may_resend(TimeoutError(), deduplicated=False)  # may be stored already
    assert not may_resend(APIError(code=400, err_code=10201), deduplicated=True)


def test_backoff_delays_double_to_the_last() -> None:
    backoff = Backoff(0.1, 2.0)
    assert [backoff.delay() for _ in range(7)] == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]


async def test_attempts_are_bounded_then_the_deadline_ends_them() -> None:
    waits: list[float] = []

    async def lost(wait_s: float) -> int:
        waits.append(wait_s)
        raise TimeoutError

    with pytest.raises(TimeoutError):
        await until_stored(lost, timeout=1.0, attempt_s=0.05, deduplicated=True)
    assert len(waits) >= 3
    assert max(waits) <= 0.05

    waits.clear()
    with pytest.raises(TimeoutError):  # without an id: one attempt, all the time there is
        await until_stored(lost, timeout=1.0, attempt_s=0.05, deduplicated=False)
    assert len(waits) == 1
    assert waits[0] == pytest.approx(1.0, abs=0.05)


async def test_a_retry_that_succeeds_returns_its_result() -> None:
    errors: list[Exception] = [NoStreamResponseError(), ServiceUnavailableError(code=503)]

    async def electing(wait_s: float) -> str:
        if errors:
            raise errors.pop(0)
        return "stored"

    assert await until_stored(electing, timeout=5.0, attempt_s=1.0, deduplicated=False) == "stored"
