"""Scan processes are recycled when they may carry leftover work (a detector timed out, a thread
still runs) or after engine.scan_recycle_after scans: the result still comes back, no message is
lost or scanned twice, and a fresh process takes the next scan. Ordinary scans recycle nothing."""

from __future__ import annotations

import asyncio
import contextlib
import io
import threading
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage

import pytest
from helpers_isolation import ENVELOPE, gone, message, run
from pypdf import PdfWriter

from mailward.config import settings_from_mapping
from mailward.config.settings import EngineSettings
from mailward.engine.isolation import IsolatedEngine
from mailward.engine.isolation._leftover import CountingExecutor, LeftoverWatch
from mailward.engine.pipeline import ScanOutcome
from mailward.model import Action, Finding

HOOK = "recycle-test-51c9"
SLOW = pytest.mark.slow  # the tests that start scan processes


def with_pdf(n: int) -> bytes:
    """A message whose PDF the documents detector opens in a worker thread."""
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    pdf = io.BytesIO()
    writer.write(pdf)
    msg = EmailMessage()
    msg["From"] = "Alice <alice@partner.example.net>"
    msg["To"] = "bob@example.com"
    msg["Subject"] = f"report {n}"
    msg["Message-ID"] = f"<m{n}@partner.example.net>"
    msg.set_content(f"Hi Bob, report {n} is attached.")
    msg.add_attachment(pdf.getvalue(), maintype="application", subtype="pdf",
                       filename=f"report{n}.pdf")
    return msg.as_bytes()


@contextlib.asynccontextmanager
async def isolated(processes: int = 1, **engine: object) -> AsyncIterator[IsolatedEngine]:
    settings = settings_from_mapping({
        "dns": {"enabled": False},
        "engine": {
            "scan_processes": processes, "detector_timeout": 1.0, "scan_hard_timeout": 10.0,
            **engine,
        },
    })
    isolated_engine = IsolatedEngine(settings, test_hook=HOOK)
    isolated_engine.start()
    try:
        assert await asyncio.to_thread(isolated_engine.pool.wait_ready, 120.0)
        yield isolated_engine
    finally:
        isolated_engine.close()
        assert await asyncio.to_thread(isolated_engine.pool.join, 15.0)


async def replaced(engine: IsolatedEngine, old: list[int], timeout: float = 30.0) -> list[int]:
    """The pool's pids once every one of ``old`` is gone and the pool is full again."""
    deadline = time.monotonic() + timeout
    want = len(engine.pool._slots)
    while time.monotonic() < deadline:
        pids = engine.pool.pids()
        if len(pids) == want and not set(pids) & set(old) and all(gone(p) for p in old):
            return pids
        await asyncio.sleep(0.05)
    raise AssertionError(f"scan processes {old} were not replaced: {engine.pool.pids()}")


def symbols(outcome: ScanOutcome) -> set[str]:
    return {f.symbol for f in outcome.result.findings}


# --- in the scan processes -------------------------------------------------------------------


@SLOW
@run
async def test_detector_timeout_retires_the_process_after_its_result() -> None:
    async with isolated() as engine:
        old = engine.pool.pids()
        started = time.monotonic()
        outcome = await engine.scan(message(1, f"{HOOK}:slowthread"), ENVELOPE)
        assert time.monotonic() - started < 5.0  # the timeout, not the thread's 5 s sleep
        assert outcome.message_id == "m1@partner.example.net"
        assert "ENGINE_DETECTOR_TIMEOUT" in symbols(outcome)
        assert "ENGINE_SCAN_KILLED" not in symbols(outcome)
        new = await replaced(engine, old)
        after = await engine.scan(message(2), ENVELOPE)
        assert after.verdict.action is Action.DELIVER
        assert after.message_id == "m2@partner.example.net"
        assert engine.pool.pids() == new  # an ordinary scan keeps its process
        assert len(engine.pool.startup_seconds) == 2


@SLOW
@run
async def test_thread_left_running_retires_the_process() -> None:
    async with isolated() as engine:
        old = engine.pool.pids()
        outcome = await engine.scan(message(1, f"{HOOK}:straythread"), ENVELOPE)
        assert outcome.verdict.action is Action.DELIVER
        assert "ENGINE_DETECTOR_TIMEOUT" not in symbols(outcome)
        await replaced(engine, old)
        assert (await engine.scan(message(2), ENVELOPE)).verdict.action is Action.DELIVER


@SLOW
@run
async def test_recycle_after_three_scans() -> None:
    async with isolated(scan_recycle_after=3) as engine:
        (first,) = engine.pool.pids()
        for n in (1, 2):
            assert (await engine.scan(message(n), ENVELOPE)).verdict.action is Action.DELIVER
            assert engine.pool.pids() == [first]
        third = await engine.scan(message(3), ENVELOPE)
        assert third.message_id == "m3@partner.example.net"
        assert third.verdict.action is Action.DELIVER
        (second,) = await replaced(engine, [first])
        for n in (4, 5):
            assert (await engine.scan(message(n), ENVELOPE)).verdict.action is Action.DELIVER
        assert engine.pool.pids() == [second]


@SLOW
@run
async def test_default_settings_do_not_recycle_ordinary_scans() -> None:
    assert EngineSettings().scan_recycle_after == 1000
    async with isolated() as engine:
        (pid,) = engine.pool.pids()
        for n in range(1, 9):  # PDFs too: their worker threads stay pooled, idle
            raw = with_pdf(n) if n % 2 else message(n)
            outcome = await engine.scan(raw, ENVELOPE)
            assert outcome.message_id == f"m{n}@partner.example.net"
            assert "ENGINE_DETECTOR_TIMEOUT" not in symbols(outcome)
        await asyncio.sleep(0.5)
        assert engine.pool.pids() == [pid]
        assert len(engine.pool.startup_seconds) == 1


@SLOW
@run
async def test_mixed_load_loses_no_message_and_keeps_the_pool_full() -> None:
    async with isolated(processes=2) as engine:
        raws = [message(n, f"{HOOK}:slowthread" if n % 3 == 0 else "") for n in range(1, 10)]
        outcomes = await asyncio.gather(*(engine.scan(raw, ENVELOPE) for raw in raws))
        assert [o.message_id for o in outcomes] == [
            f"m{n}@partner.example.net" for n in range(1, 10)
        ]
        timed_out = [("ENGINE_DETECTOR_TIMEOUT" in symbols(o)) for o in outcomes]
        assert timed_out == [n % 3 == 0 for n in range(1, 10)]
        assert all("ENGINE_SCAN_KILLED" not in symbols(o) for o in outcomes)
        assert await asyncio.to_thread(engine.pool.wait_ready, 30.0)
        assert len(engine.pool.startup_seconds) == 2 + 3  # one fresh process per timeout


# --- LeftoverWatch on its own ----------------------------------------------------------------

def timeout_finding(detector: str) -> Finding:
    return Finding(symbol="ENGINE_DETECTOR_TIMEOUT", explanation="ran out", evidence=(detector,),
                   detector="engine")


@run
async def test_watch_names_the_detector_that_timed_out() -> None:
    watch = LeftoverWatch(0)
    watch.install(asyncio.get_running_loop())
    reason = await watch.reason((timeout_finding("documents"),))
    assert reason is not None and "documents timed out" in reason
    assert await watch.reason(()) is None


@run
async def test_watch_sees_busy_executor_work_but_not_idle_workers() -> None:
    executor = CountingExecutor()
    watch = LeftoverWatch(0, executor)
    watch.install(asyncio.get_running_loop())
    await asyncio.to_thread(time.sleep, 0.01)  # done: its worker stays pooled, idle
    assert await watch.reason(()) is None
    release = threading.Event()
    running = asyncio.get_running_loop().run_in_executor(None, release.wait, 5.0)
    try:
        reason = await watch.reason(())
        assert reason is not None and "still running" in reason
    finally:
        release.set()
        await running
    assert executor.busy == 0
    assert await watch.reason(()) is None
    executor.shutdown()


@run
async def test_watch_counts_scans_only_when_asked() -> None:
    never, three = LeftoverWatch(0), LeftoverWatch(3)
    for watch in (never, three):
        watch.install(asyncio.get_running_loop())
    assert [await never.reason(()) for _ in range(5)] == [None] * 5
    reasons = [await three.reason(()) for _ in range(3)]
    assert reasons[:2] == [None, None]
    assert reasons[2] is not None and "3 scans" in reasons[2]
    never.executor.shutdown()
    three.executor.shutdown()
