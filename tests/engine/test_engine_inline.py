"""Detector coroutines run inline until they first suspend (mailward.engine._inline)."""

from __future__ import annotations

import asyncio

import pytest

from mailward.engine import _inline


async def no_wait(x: int) -> int:
    return x * 2


async def waits(x: int) -> int:
    await asyncio.sleep(0)
    await asyncio.sleep(0.001)
    return x + 1


async def stalls() -> int:
    await asyncio.sleep(30)
    return 0


async def fails() -> int:
    raise ValueError("broken")


def test_a_coroutine_that_never_waits_finishes_in_its_first_step() -> None:
    first = _inline.step(no_wait(21))
    assert isinstance(first, _inline.Done)
    assert first.value == 42


def test_an_exception_in_the_first_step_propagates() -> None:
    with pytest.raises(ValueError, match="broken"):
        _inline.step(fails())


def test_a_coroutine_that_waits_is_resumed_where_it_stopped() -> None:
    async def run() -> int:
        first = _inline.step(waits(1))
        assert isinstance(first, _inline.Suspended)
        return await first

    assert asyncio.run(run()) == 2


def test_a_suspended_coroutine_can_still_time_out() -> None:
    async def run() -> None:
        first = _inline.step(stalls())
        assert isinstance(first, _inline.Suspended)
        await asyncio.wait_for(first, 0.01)

    with pytest.raises(TimeoutError):
        asyncio.run(run())
