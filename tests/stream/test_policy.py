"""The retry, poison and dead-letter policy: pure decisions from delivery counts."""

from __future__ import annotations

import pytest

from peaceland.stream import Action, Decision, RetryPolicy, apply, deadletter_id


@pytest.mark.parametrize(
    ("delivered", "action"),
    [(1, Action.NAK), (9, Action.NAK), (10, Action.TERM), (11, Action.TERM)],
)
def test_a_failure_is_retried_until_the_last_delivery(delivered: int, action: Action) -> None:
    policy = RetryPolicy(max_deliver=10, retry_delay_s=2.5)
    decision = policy.on_failure(delivered)
    assert decision.action is action
    assert decision.delay_s == (2.5 if action is Action.NAK else 0.0)
    assert policy.on_delivery(delivered) is None  # no poison limit: always handled


def test_unlimited_deliveries_retry_forever() -> None:
    policy = RetryPolicy()
    assert policy.on_failure(1_000_000) == Decision(Action.NAK, 1.0)


@pytest.mark.parametrize(("delivered", "poison"), [(1, False), (3, False), (4, True)])
def test_poison_is_dead_lettered_and_terminated_when_that_fails(
    delivered: int, poison: bool
) -> None:
    policy = RetryPolicy(poison_after=3)
    assert policy.is_poison(delivered) is poison
    expected = Decision(Action.DEAD_LETTER) if poison else None
    assert policy.on_delivery(delivered) == expected
    assert policy.on_failure(delivered).action is (Action.TERM if poison else Action.NAK)


def test_a_negative_delay_is_refused() -> None:
    with pytest.raises(ValueError, match="retry_delay_s"):
        RetryPolicy(retry_delay_s=-1)


def test_the_dead_letter_id_is_the_stream_position() -> None:
    first = deadletter_id("alerter", "REPORTS", 42, 1_700_000_000_123_456_789)
    assert first == "alerter:REPORTS:42:1700000000123456789"
    assert deadletter_id("alerter", "REPORTS", 42, 1_700_000_000_123_456_789) == first
    # A stream created again reuses sequences, not times; another source its own id.
    assert deadletter_id("alerter", "REPORTS", 42, 1_800_000_000_000_000_000) != first
    assert deadletter_id("archiver", "REPORTS", 42, 1_700_000_000_123_456_789) != first


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, float | None]] = []

    async def ack(self) -> None:
        self.calls.append(("ack", None))

    async def nak(self, delay: float | None = None) -> None:
        self.calls.append(("nak", delay))

    async def term(self) -> None:
        self.calls.append(("term", None))


async def test_apply_carries_out_each_decision() -> None:
    msg = Recorder()
    for decision in (Decision(Action.ACK), Decision(Action.NAK, 0.5), Decision(Action.TERM)):
        await apply(msg, decision)
    assert msg.calls == [("ack", None), ("nak", 0.5), ("term", None)]
    with pytest.raises(ValueError, match="dead letter"):
        await apply(msg, Decision(Action.DEAD_LETTER))
