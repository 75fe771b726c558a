"""The live summary's rates, from counts sampled with a passed-in clock."""

from __future__ import annotations

import pytest

from peaceland.runtime.supervisor import Rates


def test_rate_over_the_last_seconds_and_per_minute() -> None:
    rates = Rates(window_s=60)
    assert rates.per_second() == 0.0
    for second in range(11):
        rates.add(float(second), second * 100)  # 100 a second
    assert rates.per_second(5) == pytest.approx(100)
    assert rates.per_minute() == pytest.approx(6000)


def test_old_samples_leave_the_window_and_resets_never_go_negative() -> None:
    rates = Rates(window_s=10)
    rates.add(0.0, 0)
    rates.add(100.0, 5000)
    assert len(rates.samples) == 1
    rates.add(101.0, 10)  # the stream was purged: no negative rate
    assert rates.per_second() == 0.0
