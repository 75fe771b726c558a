"""The token buckets of ``peaceland.rate_limit``, on an injected clock."""

from __future__ import annotations

import pytest

from peaceland.access import RateLimiter
from peaceland.config.settings import DEFAULT_RATE_LIMIT_BURST, DEFAULT_RATE_LIMIT_PER_S


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_burst_then_refusal_with_the_wait_until_the_next_token() -> None:
    clock = Clock()
    limiter = RateLimiter(2.0, 3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == pytest.approx(0.5)
    assert limiter.refused == 1
    clock.now += 0.25
    assert limiter.acquire("a") == pytest.approx(0.25)
    clock.now += 0.25
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") == pytest.approx(0.5)


def test_refill_stops_at_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(10.0, 5, clock=clock)
    assert limiter.acquire("a") == 0.0
    clock.now += 3600
    assert [limiter.acquire("a") for _ in range(5)] == [0.0] * 5
    assert limiter.acquire("a") > 0


def test_sustained_rate_is_the_refill_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(100.0, 10, clock=clock)
    allowed = 0
    for _ in range(10_000):  # 10 s at 1,000 requests/s
        clock.now += 0.001
        allowed += limiter.acquire("a") == 0.0
    assert 10 + 990 <= allowed <= 10 + 1000


def test_clients_have_their_own_buckets() -> None:
    limiter = RateLimiter(1.0, 1, clock=Clock())
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") > 0
    assert limiter.acquire("b") == 0.0


def test_a_clock_going_back_gives_no_tokens() -> None:
    clock = Clock()
    limiter = RateLimiter(1.0, 1, clock=clock)
    assert limiter.acquire("a") == 0.0
    clock.now -= 100
    assert limiter.acquire("a") > 0
    clock.now += 100  # back to where it was: only the time since the last call counts
    assert limiter.acquire("a") == pytest.approx(1.0)


def test_client_table_is_bounded_and_drops_the_least_recently_seen() -> None:
    limiter = RateLimiter(1.0, 1, max_clients=3, clock=Clock())
    for key in ("a", "b", "c"):
        assert limiter.acquire(key) == 0.0
    assert limiter.acquire("a") > 0  # "a" is now the most recently seen, still in debt
    for n in range(1_000):
        limiter.acquire(f"flood-{n}")
        assert len(limiter) <= 3
    assert len(limiter) == 3
    # "a" was dropped by the flood: it starts again with a full bucket.
    assert limiter.acquire("a") == 0.0

    kept = RateLimiter(1.0, 1, max_clients=3, clock=Clock())
    kept.acquire("a")
    kept.acquire("b")
    kept.acquire("a")  # "a" refused, and now the most recently seen
    kept.acquire("c")
    kept.acquire("d")  # drops "b", the least recently seen
    assert kept.acquire("a") > 0  # still remembered, still in debt
    assert kept.acquire("b") == 0.0  # forgotten: a fresh bucket


def test_defaults_do_not_throttle_one_gateway_client_at_2500_requests_per_s() -> None:
    clock = Clock()
    limiter = RateLimiter(DEFAULT_RATE_LIMIT_PER_S, DEFAULT_RATE_LIMIT_BURST, clock=clock)
    for _ in range(60 * 2_500):  # one minute at 2,500 requests/s
        clock.now += 1 / 2_500
        assert limiter.acquire("gateway-client") == 0.0
    assert limiter.refused == 0
    # Even 10,000 requests at one instant (the burst) pass.
    burst = RateLimiter(DEFAULT_RATE_LIMIT_PER_S, DEFAULT_RATE_LIMIT_BURST, clock=Clock())
    assert sum(burst.acquire("x") == 0.0 for _ in range(DEFAULT_RATE_LIMIT_BURST)) == 10_000


@pytest.mark.parametrize(
    ("rate", "burst", "max_clients"),
    [(0.0, 1, 10), (-1.0, 1, 10), (float("inf"), 1, 10), (1.0, 0, 10), (1.0, 1, 0)],
)
def test_invalid_parameters_are_refused(rate: float, burst: int, max_clients: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        RateLimiter(rate, burst, max_clients=max_clients)
