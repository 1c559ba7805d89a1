"""IsolatedEngine's watchdog: a stuck, crashing or memory-hungry scan costs one scan process,
never the caller's event loop or other messages, and its message ends in quarantine."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator

import pytest
from helpers_isolation import ENVELOPE, gone, message, run

from mailward.config import settings_from_mapping
from mailward.engine.isolation import SCAN_KILLED_SYMBOL, IsolatedEngine
from mailward.model import Action

pytestmark = pytest.mark.slow

HOOK = "watchdog-test-7f3a"
HARD_TIMEOUT = 3.0


@contextlib.asynccontextmanager
async def isolated(processes: int = 2, memory_mb: int = 2048) -> AsyncIterator[IsolatedEngine]:
    settings = settings_from_mapping({
        "dns": {"enabled": False},
        "engine": {
            "scan_processes": processes, "detector_timeout": 1.0,
            "scan_hard_timeout": HARD_TIMEOUT, "scan_memory_mb": memory_mb,
        },
    })
    engine = IsolatedEngine(settings, test_hook=HOOK)
    engine.start()
    try:
        ready = await asyncio.to_thread(engine.pool.wait_ready, 120.0)
        assert ready, "scan processes did not start"
        yield engine
    finally:
        engine.close()
        assert await asyncio.to_thread(engine.pool.join, 15.0)


def killed_explanation(outcome_findings: tuple[object, ...]) -> str:
    texts = [getattr(f, "explanation", "") for f in outcome_findings
             if getattr(f, "symbol", "") == SCAN_KILLED_SYMBOL]
    assert len(texts) == 1, outcome_findings
    return texts[0]


async def wait_for(predicate: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return True
        await asyncio.sleep(0.05)
    return False


@run
async def test_stuck_scan_is_killed_and_quarantined_while_other_mail_flows() -> None:
    async with isolated() as engine:
        started = time.monotonic()
        stuck = asyncio.create_task(engine.scan(message(1, f"{HOOK}:stall"), ENVELOPE))
        await asyncio.sleep(0.3)
        clean = await engine.scan(message(2), ENVELOPE)
        clean_done = time.monotonic() - started
        outcome = await stuck
        stuck_done = time.monotonic() - started
        assert clean.verdict.action is Action.DELIVER
        assert clean_done < HARD_TIMEOUT - 0.5, "the clean message waited for the stuck one"
        assert outcome.verdict.action is Action.QUARANTINE
        assert outcome.verdict.forced_by == SCAN_KILLED_SYMBOL
        assert f"hard limit of {HARD_TIMEOUT:g} s" in killed_explanation(outcome.result.findings)
        assert HARD_TIMEOUT <= stuck_done < HARD_TIMEOUT + 5
        # the killed process was replaced: both processes scan again
        assert await asyncio.to_thread(engine.pool.wait_ready, 30.0)
        after = await asyncio.gather(*(engine.scan(message(n), ENVELOPE) for n in range(3, 7)))
        assert {o.verdict.action for o in after} == {Action.DELIVER}


@run
async def test_event_loop_stays_responsive_during_a_stuck_scan() -> None:
    async with isolated(processes=1) as engine:
        stuck = asyncio.create_task(engine.scan(message(1, f"{HOOK}:stall"), ENVELOPE))
        worst = 0.0
        while not stuck.done():
            before = time.monotonic()
            await asyncio.sleep(0.05)
            worst = max(worst, time.monotonic() - before - 0.05)
        assert (await stuck).verdict.action is Action.QUARANTINE
        assert worst < 0.5, f"the event loop was blocked for {worst:.2f} s"


@run
async def test_process_killed_from_outside_is_replaced() -> None:
    async with isolated(processes=1) as engine:
        (pid,) = engine.pool.pids()
        os.kill(pid, signal.SIGKILL)
        assert await wait_for(lambda: engine.pool.pids() not in ([], [pid]))
        outcome = await engine.scan(message(1), ENVELOPE)
        assert outcome.verdict.action is Action.DELIVER
        assert outcome.message_id == "m1@partner.example.net"
        assert gone(pid)


@run
async def test_process_killed_during_a_scan_retries_once_on_a_new_process() -> None:
    async with isolated(processes=1) as engine:
        (pid,) = engine.pool.pids()
        scan = asyncio.create_task(engine.scan(message(1, f"{HOOK}:stall"), ENVELOPE))
        await asyncio.sleep(0.5)
        os.kill(pid, signal.SIGKILL)  # e.g. the kernel's OOM killer chose it
        outcome = await scan
        assert outcome.verdict.action is Action.QUARANTINE
        # the retry stalled too, so the hard limit stopped it on the new process
        assert "hard limit" in killed_explanation(outcome.result.findings)
        assert await asyncio.to_thread(engine.pool.wait_ready, 30.0)
        assert engine.pool.pids() != [pid]


@run
async def test_crashing_scan_is_quarantined_and_process_replaced() -> None:
    async with isolated(processes=1) as engine:
        outcome = await engine.scan(message(1, f"{HOOK}:crash"), ENVELOPE)
        assert outcome.verdict.action is Action.QUARANTINE
        assert "crashed (SIGSEGV)" in killed_explanation(outcome.result.findings)
        assert (await engine.scan(message(2), ENVELOPE)).verdict.action is Action.DELIVER


@run
async def test_memory_cap_stops_only_the_scan_process() -> None:
    async with isolated(processes=1, memory_mb=1536) as engine:
        (pid,) = engine.pool.pids()
        outcome = await engine.scan(message(1, f"{HOOK}:alloc"), ENVELOPE)
        assert outcome.verdict.action is Action.QUARANTINE
        assert "out of memory (cap 1536 MiB)" in killed_explanation(outcome.result.findings)
        assert await wait_for(lambda: gone(pid))
        assert (await engine.scan(message(2), ENVELOPE)).verdict.action is Action.DELIVER


@run
async def test_cancelled_scan_kills_its_process_and_the_next_scan_runs() -> None:
    async with isolated(processes=1) as engine:
        (pid,) = engine.pool.pids()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(engine.scan(message(1, f"{HOOK}:stall"), ENVELOPE), 0.5)
        assert await wait_for(lambda: gone(pid))
        started = time.monotonic()
        assert (await engine.scan(message(2), ENVELOPE)).verdict.action is Action.DELIVER
        assert time.monotonic() - started < HARD_TIMEOUT


@run
async def test_close_ends_every_scan_process() -> None:
    async with isolated() as engine:
        pids = engine.pool.pids()
        assert len(pids) == 2
    assert all(gone(pid) for pid in pids)
