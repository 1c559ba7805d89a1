"""Retry back-off: doubles from the initial delay up to the ceiling."""

from __future__ import annotations

import pytest

from mailward.delivery.retry import next_retry_delay


def test_sequence_doubles_then_caps() -> None:
    delays = [next_retry_delay(n, 60.0, 3600.0) for n in range(1, 10)]
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]


def test_cap_below_initial_wins() -> None:
    assert next_retry_delay(1, 60.0, 30.0) == 30.0


def test_huge_attempt_does_not_overflow() -> None:
    assert next_retry_delay(10_000, 60.0, 3600.0) == 3600.0


@pytest.mark.parametrize("attempt", [0, -1])
def test_attempt_below_one_is_refused(attempt: int) -> None:
    with pytest.raises(ValueError, match="attempt"):
        next_retry_delay(attempt, 60.0, 3600.0)


def test_non_positive_delays_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        next_retry_delay(1, 0.0, 3600.0)
